// Package gateway is portway's stand-in for an API Gateway REST API stage:
// resources and methods, a COGNITO_USER_POOLS authorizer, HTTP_PROXY
// integrations, gateway responses, limits, throttling and an access log.
//
// Request pipeline (server.go): throttle → body size (Content-Length) →
// path normalization (normalize.go) → stage → resource and method
// (router.go) → authorizer (authorizer.go, jwks.go) → integration
// (proxy.go). Every refusal is a *gwError turned into a gateway response in
// one place, Gateway.writeError (responses.go).
//
// Choices where AWS leaves room or portway differs:
//   - Paths are normalized once; rejected paths (dot segments, %2e/%2f/%5c,
//     backslashes, encoded control characters) get BAD_REQUEST_PARAMETERS
//     400 {"message":"Invalid request path"}. "//" collapses and a trailing
//     "/" is dropped; the canonical path is what is routed, authorized,
//     logged and forwarded ({proxy} gets its escaped form).
//   - An expired token gets UNAUTHORIZED (401) with the message "The incoming
//     token has expired", as AWS does for Cognito authorizers; EXPIRED_TOKEN
//     exists for overrides only and is never emitted.
//   - A link failure is INTEGRATION_FAILURE 500 {"message":"Internal server
//     error"}; an integration timeout is INTEGRATION_TIMEOUT 504.
//   - A key set that cannot be fetched is AUTHORIZER_FAILURE 500.
//   - Methods are matched after the resource: a specific resource without
//     the method gives 403 and does not fall back to a {proxy+} sibling.
package gateway
