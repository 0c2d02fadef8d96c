package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Gateway response types (AWS names).
const (
	RespAccessDenied           = "ACCESS_DENIED"
	RespAPIConfigurationError  = "API_CONFIGURATION_ERROR"
	RespAuthorizerConfigError  = "AUTHORIZER_CONFIGURATION_ERROR"
	RespAuthorizerFailure      = "AUTHORIZER_FAILURE"
	RespBadRequestParameters   = "BAD_REQUEST_PARAMETERS"
	RespBadRequestBody         = "BAD_REQUEST_BODY"
	RespDefault4XX             = "DEFAULT_4XX"
	RespDefault5XX             = "DEFAULT_5XX"
	RespExpiredToken           = "EXPIRED_TOKEN"
	RespIntegrationFailure     = "INTEGRATION_FAILURE"
	RespIntegrationTimeout     = "INTEGRATION_TIMEOUT"
	RespInvalidAPIKey          = "INVALID_API_KEY"
	RespInvalidSignature       = "INVALID_SIGNATURE"
	RespMissingAuthToken       = "MISSING_AUTHENTICATION_TOKEN"
	RespQuotaExceeded          = "QUOTA_EXCEEDED"
	RespRequestTooLarge        = "REQUEST_TOO_LARGE"
	RespResourceNotFound       = "RESOURCE_NOT_FOUND"
	RespThrottled              = "THROTTLED"
	RespUnauthorized           = "UNAUTHORIZED"
	RespUnsupportedMediaType   = "UNSUPPORTED_MEDIA_TYPE"
	RespWAFFiltered            = "WAF_FILTERED"
	respNoBasePathMapping      = "NO_BASE_PATH_MAPPING" // not a gateway response type: fixed, before any API
	respUnknownHost            = "UNKNOWN_HOST"         // not a gateway response type: fixed, before any API
	defaultResponseBody        = `{"message":$context.error.messageString}`
	msgUnauthorized            = "Unauthorized"
	msgExpired                 = "The incoming token has expired"
	msgInternal                = "Internal server error"
	msgMissingAuthToken        = "Missing Authentication Token"
	headerErrorType            = "x-amzn-ErrorType"
	headerRequestID            = "x-amzn-RequestId"
	headerAPIGWID              = "x-amz-apigw-id"
	contentTypeJSON            = "application/json"
	storageResponseBodyPattern = `{"errorType":"http","httpStatus":%d,"label":%s,"description":$context.error.messageString,"type":"Error"}`
)

type responseDefault struct {
	status    int
	message   string
	errorType string // x-amzn-ErrorType
}

// ResponseTypes lists every gateway response type, sorted.
func ResponseTypes() []string {
	return []string{
		RespAccessDenied, RespAPIConfigurationError, RespAuthorizerConfigError, RespAuthorizerFailure,
		RespBadRequestBody, RespBadRequestParameters, RespDefault4XX, RespDefault5XX, RespExpiredToken,
		RespIntegrationFailure, RespIntegrationTimeout, RespInvalidAPIKey, RespInvalidSignature,
		RespMissingAuthToken, RespQuotaExceeded, RespRequestTooLarge, RespResourceNotFound,
		RespThrottled, RespUnauthorized, RespUnsupportedMediaType, RespWAFFiltered,
	}
}

// responseDefaults holds the AWS default status, message and error type of
// each gateway response. Read-only.
var responseDefaults = map[string]responseDefault{
	RespAccessDenied:          {403, "User is not authorized to access this resource", "AccessDeniedException"},
	RespAPIConfigurationError: {500, msgInternal, "InternalServerErrorException"},
	RespAuthorizerConfigError: {500, msgInternal, "AuthorizerConfigurationException"},
	RespAuthorizerFailure:     {500, msgInternal, "AuthorizerFailureException"},
	RespBadRequestParameters:  {400, "Invalid request path", "BadRequestException"},
	RespBadRequestBody:        {400, "Invalid request body", "BadRequestException"},
	RespDefault4XX:            {400, "Bad Request", "BadRequestException"},
	RespDefault5XX:            {500, msgInternal, "InternalServerErrorException"},
	RespExpiredToken:          {403, "The security token included in the request is expired", "ExpiredTokenException"},
	RespIntegrationFailure:    {504, msgInternal, "InternalServerErrorException"},
	RespIntegrationTimeout:    {504, "Endpoint request timed out", "InternalServerErrorException"},
	RespInvalidAPIKey:         {403, "Forbidden", "ForbiddenException"},
	RespInvalidSignature:      {403, "Forbidden", "InvalidSignatureException"},
	RespMissingAuthToken:      {403, msgMissingAuthToken, "MissingAuthenticationTokenException"},
	RespQuotaExceeded:         {429, "Limit Exceeded", "LimitExceededException"},
	RespRequestTooLarge:       {413, "Request Too Long", "RequestTooLargeException"},
	RespResourceNotFound:      {404, "Not Found", "NotFoundException"},
	RespThrottled:             {429, "Too Many Requests", "TooManyRequestsException"},
	RespUnauthorized:          {401, msgUnauthorized, "UnauthorizedException"},
	RespUnsupportedMediaType:  {415, "Unsupported Media Type", "UnsupportedMediaTypeException"},
	RespWAFFiltered:           {403, "Forbidden", "ForbiddenException"},
}

// StorageResponses returns, for every gateway response type, the storage
// service's error shape:
// {"errorType":"http","httpStatus":N,"label":"<reason>","description":<message>,"type":"Error"}.
func StorageResponses() map[string]ResponseTemplate {
	out := make(map[string]ResponseTemplate, len(responseDefaults))
	for typ, d := range responseDefaults {
		label, _ := json.Marshal(http.StatusText(d.status))
		out[typ] = ResponseTemplate{
			StatusCode: d.status,
			Headers:    map[string]string{"Content-Type": contentTypeJSON},
			Body:       fmt.Sprintf(storageResponseBodyPattern, d.status, label),
		}
	}
	return out
}

// gwError is a request that the gateway answers itself.
type gwError struct {
	typ     string // response type
	message string // $context.error.message; "" → the type's default
	status  int    // overrides the response's status; 0 → the response's own
	reason  string // operator-facing detail for the access log; never a secret
}

func (e *gwError) Error() string {
	if e.reason != "" {
		return e.typ + ": " + e.reason
	}
	return e.typ
}

func newGWError(typ, reason string) *gwError { return &gwError{typ: typ, reason: reason} }

// resolvedResponse is a response type with overrides applied.
type resolvedResponse struct {
	typ       string
	status    int
	errorType string
	message   string
	headers   map[string]string
	body      string
}

// resolveResponses applies overrides the AWS way: the type's own override,
// else DEFAULT_4XX/DEFAULT_5XX by the type's status class, else AWS's default.
// A zero StatusCode keeps the type's default status; an empty Body keeps the
// default body; override headers are added to Content-Type: application/json.
func resolveResponses(overrides map[string]ResponseTemplate) map[string]*resolvedResponse {
	out := make(map[string]*resolvedResponse, len(responseDefaults))
	for typ, d := range responseDefaults {
		rr := &resolvedResponse{
			typ: typ, status: d.status, errorType: d.errorType, message: d.message,
			headers: map[string]string{"Content-Type": contentTypeJSON},
			body:    defaultResponseBody,
		}
		o, ok := overrides[typ]
		if !ok {
			if d.status >= 500 {
				o, ok = overrides[RespDefault5XX]
			} else {
				o, ok = overrides[RespDefault4XX]
			}
		}
		if ok {
			if o.StatusCode != 0 {
				rr.status = o.StatusCode
			}
			if o.Body != "" {
				rr.body = o.Body
			}
			for k, v := range o.Headers {
				if strings.EqualFold(k, "Content-Type") {
					k = "Content-Type"
				}
				rr.headers[k] = v
			}
		}
		out[typ] = rr
	}
	// An unmapped base path of a custom domain, a host the gateway does not
	// serve: AWS answers before it has selected an API, so no gateway
	// response of the API applies.
	for _, typ := range []string{respNoBasePathMapping, respUnknownHost} {
		out[typ] = &resolvedResponse{
			typ: typ, status: http.StatusForbidden, errorType: "ForbiddenException", message: "Forbidden",
			headers: map[string]string{"Content-Type": contentTypeJSON}, body: defaultResponseBody,
		}
	}
	return out
}

// renderContext holds the $context values of one request.
type renderContext struct {
	requestID    string
	apigwID      string
	path         string
	resourcePath string
	method       string
	stage        string
	domainName   string
	sourceIP     string
}

// render fills the body template. $context.error.messageString is the
// message as a JSON string literal; $context.error.message is the raw text.
func (rr *resolvedResponse) render(message string, c renderContext) string {
	if message == "" {
		message = rr.message
	}
	quoted, _ := json.Marshal(message)
	pairs := append([]string{
		errorVars[0], string(quoted), // messageString before its prefix message
		errorVars[1], message,
		errorVars[2], rr.typ,
	}, contextPairs(c, rr.status)...)
	return strings.NewReplacer(pairs...).Replace(rr.body)
}

// renderContextVars fills the $context variables of a template that are
// not about an error (a MOCK integration's body).
func renderContextVars(body string, c renderContext, status int) string {
	if !strings.Contains(body, "$context.") {
		return body
	}
	return strings.NewReplacer(contextPairs(c, status)...).Replace(body)
}

func contextPairs(c renderContext, status int) []string {
	return []string{
		"$context.extendedRequestId", c.apigwID,
		"$context.requestId", c.requestID,
		"$context.resourcePath", c.resourcePath,
		"$context.httpMethod", c.method,
		"$context.path", c.path,
		"$context.stage", c.stage,
		"$context.domainName", c.domainName,
		"$context.identity.sourceIp", c.sourceIP,
		"$context.status", strconv.Itoa(status),
	}
}

// errorVars are the $context.error variables of gateway responses.
var errorVars = []string{"$context.error.messageString", "$context.error.message", "$context.error.responseType"}

// TemplateVariables lists the $context variables the gateway fills in a
// MOCK integration's body, and with errors also those it fills in gateway
// responses ($context.error.*). Other text is sent as written.
func TemplateVariables(errors bool) []string {
	var out []string
	if errors {
		out = append(out, errorVars...)
	}
	pairs := contextPairs(renderContext{}, 0)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, pairs[i])
	}
	return out
}
