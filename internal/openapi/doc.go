// Package openapi reads and writes the OpenAPI documents of API Gateway's
// get-export (OpenAPI 3.0 or Swagger 2.0, JSON or YAML, with the
// integrations and authorizers extensions), in the gateway's terms.
//
// Import (import.go, security.go, integration.go) parses with kin-openapi
// (Swagger converted by openapi2conv) and reads API Gateway's extensions
// as raw JSON. Every element is either run, refused (an error naming its
// JSON path, e.g. paths./bags/{id}.get.x-amazon-apigateway-integration.type)
// or reported (API.Notes, also with the JSON path); none is dropped
// silently. The rule: refuse what changes who gets in or what answers;
// report what is cosmetic or has no local meaning.
//
// Run: paths and methods (x-amazon-apigateway-any-method is ANY), {proxy+};
// http_proxy integrations: uri with ${stageVariables.x}; httpMethod (the
// method's, ANY, or another, as Integration.HTTPMethod, but for ANY and
// HEAD methods and HEAD itself); connectionType INTERNET/VPC_LINK;
// timeoutInMillis; requestParameters (a path parameter mapping renames or
// fixes the URI's {placeholder}, a header or query parameter passed on
// under its own name is what a proxy does anyway, other header and query
// mappings from a method request header, query or path parameter or a
// static value become Integration.RequestParameters). Mock integrations
// with a static {"statusCode": N} request template: the integration
// response that status selects, its static header parameters and its
// template (the $context variables the gateway fills, no logic). Cognito
// user pool authorizers, with each method's scopes and the authorizer's
// identitySource header (Method.IdentityHeader).
// x-amazon-apigateway-gateway-responses with static headers and
// templates. The stage from servers (basePath variable or URL path) or
// Swagger's basePath.
//
// Refused: aws_proxy (Lambda), aws and http (non-proxy, template-mapped)
// integrations; request validators in use (the document's default or a
// method's); API keys (x-api-key schemes,
// x-amazon-apigateway-api-key-source) and so usage plans; IAM (awsSigv4,
// x-amazon-apigateway-auth) and Lambda (token/request) authorizers (a
// security scheme is refused where a method uses it, naming both);
// identity sources other than one header and identity validation
// expressions; alternative or combined security requirements; resource
// policies; disableExecuteApiEndpoint; mappings from context or stage
// variables, renamed multi-value mappings, path mappings from other
// sources; another integration method on ANY or HEAD methods or as HEAD;
// mock or gateway response templates with logic (#if, #set, …) or
// $input/$util/other variables, and header values that are not static;
// unknown fields of integrations, authorizers and gateway responses, and
// unknown x-amazon-apigateway-* extensions.
//
// Reported: request validators and security schemes no method uses;
// binary media types (proxy and mock bodies pass as bytes);
// the user pool ARNs (portway's auth stands for them); VPC link ids and
// VPC_LINK URIs naming a host name (the URI's host is dialed: it should
// be the stack's load balancer); cache settings; the authorizer's result TTL;
// request templates and contentHandling on proxy integrations (AWS runs
// neither); tlsConfig; the endpoint configuration; the minimum compression
// size. Parameters, models, request bodies and method responses are
// declarations API Gateway does not enforce without a validator: read and
// not needed.
//
// Export (export.go) writes a gateway config as get-export does, so that
// Import of the result gives the same resources, scopes, integrations and
// gateway responses.
package openapi
