// Package gateway is portway's stand-in for an API Gateway REST API:
// resources and methods, stages, custom domains with base path mappings, a
// COGNITO_USER_POOLS authorizer, HTTP_PROXY integrations (with API
// Gateway's request parameter mappings to headers and query parameters,
// params.go) and MOCK integrations (mock.go: a fixed status, headers and
// body template), gateway responses, limits, throttling and an access log.
//
// Request pipeline (exchange.go): host (hosts.go) → header size → path normalization
// (normalize.go) → stage, by custom domain or invoke URL (stages.go) →
// stage throttle (throttle.go) → body size (Content-Length) → resource and
// method (router.go) → authorizer (authorizer.go, jwks.go) → per-client
// throttle → integration (proxy.go). Every refusal is a *gwError turned into
// a gateway response in one place, Gateway.writeError (responses.go).
//
// Choices where AWS leaves room or portway differs:
//   - Paths are normalized once; rejected paths (dot segments, %2e/%5c,
//     backslashes, encoded control characters; %2F only with
//     allowEncodedSlashes false, since AWS accepts it) get
//     BAD_REQUEST_PARAMETERS 400 {"message":"Invalid request path"}. "//"
//     collapses and a trailing "/" is dropped (AWS leaves it out of {proxy}
//     too); the canonical path is what is mapped to a base path, routed,
//     authorized, logged and forwarded ({proxy} gets its escaped form, as
//     AWS keeps a path parameter's escapes). The query goes on as sent but
//     for ";" (split as "&") and "%2F" (decoded), as AWS handles them.
//   - Only the hosts the gateway serves are answered (hosts.go): its listen
//     address (on 0.0.0.0 or [::], the address the connection arrived on),
//     localhost, the custom domains and Config.Hosts, any port. Another Host, or
//     absolute-form authority (which replaces Host), is 403
//     {"message":"Forbidden"} (ForbiddenException) before any API is
//     selected, so gateway response overrides do not apply; internal/h1
//     refuses one with userinfo or an invalid port with 400. An HTTP/1.0
//     request without Host is taken to name the address it arrived on.
//   - One REST API, several stages (Config.Stage is the single-stage
//     shorthand, Config.Stages the list). A Host that is a custom domain
//     (case-insensitive, port and trailing dot ignored) is routed by the
//     longest base path whose segments prefix the path, "(none)" catching
//     the rest; no stage in those URLs. AWS refuses extra mappings next to an
//     empty base path; portway allows them (the longest still wins). Base
//     paths compare case-sensitively. An unmapped base path is 403
//     {"message":"Forbidden"} (ForbiddenException): AWS answers it before
//     selecting an API, so gateway response overrides do not apply. Any
//     other served host uses the invoke URL /{stage}/…; an unknown stage is 403
//     MISSING_AUTHENTICATION_TOKEN. Wildcard domains are not supported.
//   - The backend gets X-Forwarded-For, -Proto (https with TLS, else http)
//     and -Port, as from AWS. With Config.ForwardedHeaders (portway's, off
//     by default) it also learns the public base URL: X-Forwarded-Host (the
//     checked host the client named, never the integration's) and -Prefix:
//     "/"+base path ("/" for "(none)") on a custom domain, "/"+stage on the
//     invoke URL.
//   - A COGNITO_USER_POOLS method with scopes takes access tokens holding
//     one of them; one without scopes takes ID tokens only (token_use "id",
//     an aud), as AWS's authorizer does, so access tokens get 401 there.
//   - An expired token gets UNAUTHORIZED (401) with the message "The incoming
//     token has expired", as AWS does for Cognito authorizers; EXPIRED_TOKEN
//     (403, for IAM credentials) exists for overrides only, never emitted.
//   - A link failure (connection refused, no route) is API_CONFIGURATION_ERROR
//     500 {"message":"Internal server error"}, as AWS logs VPC link failures
//     ("Execution failed due to configuration error"); an integration timeout
//     is INTEGRATION_TIMEOUT 504. INTEGRATION_FAILURE (504) is never emitted.
//   - A key set that cannot be fetched is AUTHORIZER_FAILURE 500.
//   - Methods are matched after the resource: a specific resource without
//     the method gives 403 and does not fall back to a {proxy+} sibling.
//   - Request line + header values over 10 KiB (AWS's limit) get
//     REQUEST_TOO_LARGE 413 {"message":"Request Too Long"}: AWS has one
//     response type for over-size requests, and a gateway response keeps the
//     request ids and overrides. A head over 16 KiB is answered 431 in
//     plain text before the gateway runs.
//   - The server and the integration client are internal/h1 (not net/http):
//     messages with ambiguous framing (CL+TE, duplicate Content-Length,
//     obs-fold, …) are refused with 400 before routing, bodies are re-framed
//     on the way to the backend, Expect: 100-continue is answered by the
//     gateway, and connections to backends are kept alive in a pool per
//     integration host (in process through Config.VPCLink when set). The
//     exchange runs on h1.Forwarder, the core the sidecars share: a
//     request is resent on a new connection only by its rule (idempotent,
//     or not written at all, after a kept-alive connection closed), and a
//     backend's answer given before it took the whole body (a 413) is
//     passed on, not turned into a 500.
//   - A client that stalls sending its body past timeouts.read gets 408
//     {"message":"Request Timeout"} (through DEFAULT_4XX) and the connection
//     is closed; a client that disconnects is logged with status 499.
//   - Throttling: one token bucket per stage (Config.Throttle, or the stage's
//     own), checked before routing; optionally one per client_id of the
//     verified token, checked after the authorizer (methods without an
//     authorizer have no client). Both give THROTTLED 429. At most
//     perClient.maxClients buckets are kept; the least recently used is
//     dropped and starts full again if its client returns.
//   - A panic while serving a request (a bug) is DEFAULT_5XX 500
//     {"message":"Internal server error"} with the request's ids, logged
//     once with its stack and the requestId; the gateway goes on (panic.go).
//   - Access log: one log line ("access") per request with requestId, apigwId,
//     sourceIp, client_id, method, resourcePath, path, stage, domainName,
//     status, responseLength, integrationLatency, responseLatency (ms) and,
//     for gateway responses, errorType and errorReason. With
//     Config.AccessLog, a line per request in an API Gateway
//     accessLogSettings.format template ($context variables,
//     accessformat.go) goes to its writer instead, and the "access" line
//     drops to Debug. A refused token's line names the authorizer's reason
//     and the client_id the token claims (decoded, not trusted; tracing.go).
//     No header (but User-Agent, when a format asks), token or query string
//     is ever logged.
//   - Tracing (tracing.go): the request's X-Amzn-Trace-Id is the caller's
//     first valid one (package trace: strict, at most 256 bytes) or a new
//     one, sent to the integration; the answer does not carry it (AWS
//     documents x-amzn-RequestId and x-amz-apigw-id there). With
//     Config.Traces, the gateway records its hop of every request, with the
//     addresses of the upstream connection that carried it, by which
//     package trace joins the load balancer's flow.
package gateway
