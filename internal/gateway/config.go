package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portway/portway/internal/lazyre"
)

// Integration and authorization kinds understood by the gateway.
const (
	IntegrationHTTPProxy = "HTTP_PROXY"
	ConnectionInternet   = "INTERNET" // the integration URI is reached directly (AWS's default)
	ConnectionVPCLink    = "VPC_LINK" // through a VPC link to a private NLB
	AuthNone             = "NONE"
	AuthCognito          = "COGNITO_USER_POOLS"
	MethodAny            = "ANY"
)

// Limits and defaults (AWS REST API values where AWS has one).
const (
	DefaultIntegrationTimeout = 29 * time.Second
	MinIntegrationTimeout     = 50 * time.Millisecond
	MaxIntegrationTimeout     = 29 * time.Second // unless Config.MaxIntegrationTimeout raises it
	maxRaisedIntegration      = 24 * time.Hour   // portway's bound on a raised limit (AWS's is the account's quota)
	MaxRequestBodyBytes       = 10 << 20         // 10 MB payload limit
	MaxHeaderBytes            = 10 << 10         // 10 KiB: request line + header values (AWS's limit) → REQUEST_TOO_LARGE
	hardMaxHeaderBytes        = 16 << 10         // the whole head, bytes as received: 431 plain text beyond it
	defaultJWKSFetchTimeout   = 5 * time.Second
	defaultJWKSRefetchPeriod  = 5 * time.Second
)

// Config describes one REST API deployed to one or more stages, optionally
// served under custom domain names.
type Config struct {
	Listen string `yaml:"listen" json:"listen"` // "127.0.0.1:8080"; port 0 ok

	// Stage and StageVariables are the single-stage shorthand; Stages lists
	// (more) stages. At least one stage is needed; names are unique.
	Stage          string            `yaml:"stage" json:"stage"`                   // "v1"
	StageVariables map[string]string `yaml:"stageVariables" json:"stageVariables"` // substituted as ${stageVariables.x}
	Stages         []Stage           `yaml:"stages" json:"stages"`

	// Domains are custom domain names, chosen by the request's Host. Requests
	// for any other Host use the invoke URL form /{stage}/....
	Domains []Domain `yaml:"domains" json:"domains"`

	// Hosts are more host names (or IP addresses) the gateway serves by the
	// invoke URL, beside its listen address, localhost and the custom
	// domains: e.g. the DNS name of the machine it runs on. Requests naming
	// any other host are refused (hosts.go).
	Hosts []string `yaml:"hosts" json:"hosts"`

	Resources  []Resource                  `yaml:"resources" json:"resources"`
	Authorizer AuthorizerConfig            `yaml:"authorizer" json:"authorizer"`
	Responses  map[string]ResponseTemplate `yaml:"responses" json:"responses"` // gateway response overrides by type
	Throttle   ThrottleConfig              `yaml:"throttle" json:"throttle"`   // default throttling of every stage; zero = off

	// MaxIntegrationTimeout raises the limit of the integrations' timeouts
	// above 29 s, as AWS allows for Regional and private REST APIs since
	// June 2024 (up to the account's quota, "Maximum integration timeout in
	// milliseconds"; the account's throttle quota may be lowered for it).
	// 0: 29 s, the default timeout and the limit. 29s-24h.
	MaxIntegrationTimeout time.Duration  `yaml:"maxIntegrationTimeout" json:"maxIntegrationTimeout"`
	Timeouts              TimeoutsConfig `yaml:"timeouts" json:"timeouts"` // client connection timeouts; zero = defaults

	// ForwardedHeaders turns on the forwarding headers that are portway's,
	// not AWS's. AWS sends the integration X-Forwarded-For, -Proto and
	// -Port only; off by default.
	ForwardedHeaders ForwardedHeaders `yaml:"forwardedHeaders" json:"forwardedHeaders"`

	// AllowEncodedSlashes lets %2F through path normalization (it stays
	// encoded when forwarded). nil or true, as AWS accepts such paths;
	// false rejects them with BAD_REQUEST_PARAMETERS (400).
	AllowEncodedSlashes *bool `yaml:"allowEncodedSlashes" json:"allowEncodedSlashes"`

	// VPCLink, when set, opens the integrations' connections in process:
	// it is asked first for every address the gateway dials, and says
	// whether the address is its own (a co-located load balancer's
	// listener). nil: every integration host is dialed over TCP.
	VPCLink VPCLink `yaml:"-" json:"-"`

	// TLS, when set, makes the listener serve HTTPS (execute-api is HTTPS
	// only); backends then see X-Forwarded-Proto: https.
	TLS *tls.Config `yaml:"-" json:"-"`

	// AccessLog, when set with an Out, gets one line per request in its
	// Format; the "access" line on Logger is then at Debug level.
	AccessLog *AccessLog `yaml:"-" json:"-"`

	// Traces, when set, gets the gateway's hop of every request (package
	// trace); nil: not recorded.
	Traces HopRecorder `yaml:"-" json:"-"`
	// Metrics, when set, gets the gateway's Prometheus collectors
	// (metrics.go); nil: no metrics.
	Metrics prometheus.Registerer `yaml:"-" json:"-"`

	// Live, when set, gets every request's route, status, duration and
	// authorizer result (the console's last-minute statistics); nil: not
	// recorded.
	Live LiveRecorder `yaml:"-" json:"-"`

	Logger *slog.Logger     `yaml:"-" json:"-"` // nil → discard
	Now    func() time.Time `yaml:"-" json:"-"` // nil → time.Now
}

// ForwardedHeaders are the forwarding headers only portway sends, for
// backends that build their public URLs from the request (API Gateway sends
// neither: a backend behind it uses a configured base URL).
type ForwardedHeaders struct {
	// Host sends X-Forwarded-Host: the host the client named (checked
	// against the hosts the gateway serves), never the integration's.
	Host bool `yaml:"host" json:"host"`
	// Prefix sends X-Forwarded-Prefix: "/" + the base path on a custom
	// domain ("/" for "(none)"), "/" + the stage on the invoke URL.
	Prefix bool `yaml:"prefix" json:"prefix"`
}

// VPCLink reaches a private load balancer without a TCP hop to its
// listener (nlb.LoadBalancer implements it). ok is false for an address
// that is not one of its listeners.
type VPCLink interface {
	DialListener(ctx context.Context, address string) (c net.Conn, ok bool, err error)
}

// Stage is one deployment stage of the API.
type Stage struct {
	Name      string            `yaml:"name" json:"name"`
	Variables map[string]string `yaml:"variables" json:"variables"`
	Throttle  *ThrottleConfig   `yaml:"throttle,omitempty" json:"throttle,omitempty"` // nil → Config.Throttle
}

// Domain is a custom domain name with its base path mappings.
type Domain struct {
	Name     string            `yaml:"name" json:"name"` // Host to match: case-insensitive, port ignored
	Mappings []BasePathMapping `yaml:"mappings" json:"mappings"`
}

// BasePathMapping maps the requests under a base path of a domain to a stage.
type BasePathMapping struct {
	BasePath string `yaml:"basePath" json:"basePath"` // "(none)" or "" = root; may have slashes: "storage/v1"
	Stage    string `yaml:"stage" json:"stage"`
}

// BasePathNone is AWS's name for the root base path of a domain.
const BasePathNone = "(none)"

// Resource is one path of the API, e.g. "/bags/{proxy+}".
type Resource struct {
	Path    string   `yaml:"path" json:"path"`
	Methods []Method `yaml:"methods" json:"methods"`
}

// Method is one method of a resource.
type Method struct {
	HTTPMethod    string   `yaml:"httpMethod" json:"httpMethod"`       // "ANY" or GET/POST/...
	Authorization string   `yaml:"authorization" json:"authorization"` // "NONE" or "COGNITO_USER_POOLS"
	Scopes        []string `yaml:"scopes" json:"scopes"`               // access tokens with any one; none: ID tokens only (AWS)
	// IdentityHeader is the header the authorizer reads the token from
	// (AWS: the authorizer's identitySource, method.request.header.NAME);
	// "" is Authorization. COGNITO_USER_POOLS only.
	IdentityHeader string      `yaml:"identityHeader,omitempty" json:"identityHeader,omitempty"`
	Integration    Integration `yaml:"integration" json:"integration"`
}

// Integration is the backend of a method: HTTP_PROXY, or MOCK (the gateway
// answers with Mock).
type Integration struct {
	Type string `yaml:"type" json:"type"` // "HTTP_PROXY" or "MOCK"
	// ConnectionType is "INTERNET" (the default when empty, as in AWS) or
	// "VPC_LINK". Both forward the same way here: the URI's host, e.g. the
	// load balancer's private address, is dialed directly (or, when it is a
	// listener of a co-located load balancer, reached through Config.VPCLink).
	ConnectionType string        `yaml:"connectionType,omitempty" json:"connectionType,omitempty"`
	URI            string        `yaml:"uri" json:"uri"`         // may use ${stageVariables.x} and {param}
	Timeout        time.Duration `yaml:"timeout" json:"timeout"` // 0 → 29s; 50ms..29s (or Config.MaxIntegrationTimeout)
	// Mock is the response of a MOCK integration (nil: 200, empty body);
	// URI, ConnectionType and Timeout are then unused and must be empty.
	Mock *MockResponse `yaml:"mock,omitempty" json:"mock,omitempty"`
	// RequestParameters map request values to headers and query
	// parameters of the integration request, as API Gateway writes them
	// (params.go): "integration.request.header.X-Stage": "'v1'",
	// "integration.request.querystring.id": "method.request.path.id", ….
	// HTTP_PROXY only.
	RequestParameters map[string]string `yaml:"requestParameters,omitempty" json:"requestParameters,omitempty"`
	// HTTPMethod is the method of the integration request when it differs
	// from the method's own (AWS's integration httpMethod): "" or ANY pass
	// the client's method on. HTTP_PROXY only; not with ANY or HEAD methods
	// nor as HEAD, where the response's framing would change.
	HTTPMethod string `yaml:"httpMethod,omitempty" json:"httpMethod,omitempty"`
}

// AuthorizerConfig configures the COGNITO_USER_POOLS authorizer.
type AuthorizerConfig struct {
	Issuer  string `yaml:"issuer" json:"issuer"`   // exact "iss" of accepted tokens
	JWKSURL string `yaml:"jwksUrl" json:"jwksUrl"` // signing keys, fetched over HTTP

	// Optional tuning; zero values get defaults.
	FetchTimeout    time.Duration `yaml:"fetchTimeout" json:"fetchTimeout"`       // default 5s
	RefetchPeriod   time.Duration `yaml:"refetchPeriod" json:"refetchPeriod"`     // min gap between fetches, default 5s
	MaxCachedTokens int           `yaml:"maxCachedTokens" json:"maxCachedTokens"` // default 10000

	// ClientTLS is the TLS of the JWKS fetches (root CAs for an https
	// JWKSURL); nil means the system's roots.
	ClientTLS *tls.Config `yaml:"-" json:"-"`
}

// ThrottleConfig is a token bucket over all requests of a stage, and
// optionally one per client (the client_id of the verified access token).
type ThrottleConfig struct {
	RateLimit  float64              `yaml:"rateLimit" json:"rateLimit"`   // requests per second; 0 = no stage throttling
	BurstLimit int                  `yaml:"burstLimit" json:"burstLimit"` // bucket size
	PerClient  ClientThrottleConfig `yaml:"perClient" json:"perClient"`
}

// ClientThrottleConfig is a token bucket per client id. Methods without an
// authorizer have no client and are only throttled by the stage bucket.
type ClientThrottleConfig struct {
	RateLimit  float64 `yaml:"rateLimit" json:"rateLimit"`   // requests per second per client; 0 = off
	BurstLimit int     `yaml:"burstLimit" json:"burstLimit"` // bucket size per client
	MaxClients int     `yaml:"maxClients" json:"maxClients"` // buckets kept (least recently used dropped); 0 → 10000
}

// TimeoutsConfig bounds what clients may do; zero fields get the defaults.
type TimeoutsConfig struct {
	ReadHeader time.Duration `yaml:"readHeader" json:"readHeader"` // request line + headers; default 10s
	Read       time.Duration `yaml:"read" json:"read"`             // whole request incl. body; default 60s
	Write      time.Duration `yaml:"write" json:"write"`           // until the response is written; default 60s, > every integration timeout
	Idle       time.Duration `yaml:"idle" json:"idle"`             // keep-alive between requests; default 90s
}

// ResponseTemplate is a gateway response: status, headers and a body template
// that may use $context.error.messageString, $context.error.message,
// $context.error.responseType, $context.requestId, $context.path,
// $context.stage (and a few more, see render).
type ResponseTemplate struct {
	StatusCode int               `yaml:"statusCode" json:"statusCode"` // 0 → the type's default status
	Headers    map[string]string `yaml:"headers" json:"headers"`
	Body       string            `yaml:"body" json:"body"` // "" → AWS default body
}

var (
	stageRe       = lazyre.New(`^[A-Za-z0-9_-]{1,128}$`)
	stageVarName  = lazyre.New(`^[A-Za-z0-9_]{1,64}$`)
	stageVarValue = lazyre.New(`^[A-Za-z0-9\-._~:/?#&=,]{0,512}$`)
	stageVarRef   = lazyre.New(`\$\{stageVariables\.([^}]*)\}`)
	headerNameRe  = lazyre.New("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	validMethods  = map[string]bool{
		MethodAny: true, http.MethodGet: true, http.MethodPost: true, http.MethodPut: true,
		http.MethodDelete: true, http.MethodPatch: true, http.MethodHead: true, http.MethodOptions: true,
	}
)

// Validate reports every problem of the config, each naming its field.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.Listen == "" {
		add("listen", "must not be empty")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "must be host:port: %v", err)
	}
	if c.AccessLog != nil {
		if err := ValidateAccessLogFormat(c.AccessLog.Format); err != nil {
			add("accessLog.format", "%v", err)
		}
	}
	stages := c.stageList()
	errs = append(errs, validateStages(c)...)
	errs = append(errs, validateDomains(c.Domains, stages)...)
	errs = append(errs, validateHosts(c.Hosts, c.Domains)...)
	maxTimeout := MaxIntegrationTimeout
	if c.MaxIntegrationTimeout != 0 {
		if c.MaxIntegrationTimeout < MaxIntegrationTimeout || c.MaxIntegrationTimeout > maxRaisedIntegration {
			add("maxIntegrationTimeout", "must be between 29s (the default) and 24h, got %s", c.MaxIntegrationTimeout)
		} else {
			maxTimeout = c.MaxIntegrationTimeout
		}
	}
	needAuthorizer := ""
	for i, res := range c.Resources {
		rf := fmt.Sprintf("resources[%d]", i)
		params, err := parseResourcePath(res.Path)
		if err != nil {
			add(rf+".path", "%v", err)
		}
		if len(res.Methods) == 0 {
			add(rf+".methods", "must not be empty")
		}
		seen := map[string]bool{}
		for j, m := range res.Methods {
			mf := fmt.Sprintf("%s.methods[%d]", rf, j)
			if !validMethods[m.HTTPMethod] {
				add(mf+".httpMethod", "must be ANY, GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS, got %q", m.HTTPMethod)
			} else if seen[m.HTTPMethod] {
				add(mf+".httpMethod", "%s is defined twice on %s", m.HTTPMethod, res.Path)
			}
			seen[m.HTTPMethod] = true
			switch m.Authorization {
			case AuthNone:
				if len(m.Scopes) > 0 {
					add(mf+".scopes", "only allowed with authorization COGNITO_USER_POOLS")
				}
				if m.IdentityHeader != "" {
					add(mf+".identityHeader", "only allowed with authorization COGNITO_USER_POOLS")
				}
			case AuthCognito:
				if needAuthorizer == "" {
					needAuthorizer = mf
				}
				if h := m.IdentityHeader; h != "" && (!headerNameRe().MatchString(h) || slices.Contains(reservedHeaders, strings.ToLower(h))) {
					add(mf+".identityHeader", "%q is not a header the token can come in", h)
				}
			default:
				add(mf+".authorization", "must be NONE or COGNITO_USER_POOLS, got %q", m.Authorization)
			}
			for k, s := range m.Scopes {
				if s == "" || strings.ContainsAny(s, " \t\r\n") {
					add(fmt.Sprintf("%s.scopes[%d]", mf, k), "must be non-empty without spaces")
				}
			}
			if hm := m.Integration.HTTPMethod; hm != "" && hm != MethodAny && hm != m.HTTPMethod {
				switch {
				case !validMethods[hm]:
					add(mf+".integration.httpMethod", "must be ANY, GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS, got %q", hm)
				case m.Integration.Type != IntegrationHTTPProxy:
					add(mf+".integration.httpMethod", "only with type HTTP_PROXY")
				case m.HTTPMethod == MethodAny || m.HTTPMethod == http.MethodHead || hm == http.MethodHead:
					add(mf+".integration.httpMethod", "%s cannot stand for %s (a HEAD request's response has no body)", hm, m.HTTPMethod)
				}
			}
			for _, e := range validateIntegration(m.Integration, stages, params, maxTimeout) {
				errs = append(errs, fmt.Errorf("%s.integration.%w", mf, e))
			}
		}
	}
	if err := checkTree(c.Resources); err != nil {
		errs = append(errs, err)
	}
	if needAuthorizer != "" {
		if u, err := url.Parse(c.Authorizer.Issuer); c.Authorizer.Issuer == "" || err != nil || u.Scheme == "" || u.Host == "" {
			add("authorizer.issuer", "must be an absolute URL (required by %s)", needAuthorizer)
		}
		if u, err := url.Parse(c.Authorizer.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("authorizer.jwksUrl", "must be an http(s) URL (required by %s)", needAuthorizer)
		}
	}
	if c.Authorizer.FetchTimeout < 0 || c.Authorizer.FetchTimeout > time.Minute {
		add("authorizer.fetchTimeout", "must be between 0 (default) and 1m")
	}
	if c.Authorizer.RefetchPeriod < 0 {
		add("authorizer.refetchPeriod", "must be >= 0")
	}
	if c.Authorizer.MaxCachedTokens < 0 {
		add("authorizer.maxCachedTokens", "must be >= 0")
	}
	for _, typ := range sortedKeys(c.Responses) {
		errs = append(errs, validateResponse(typ, c.Responses[typ])...)
	}
	errs = append(errs, validateThrottle("throttle", c.Throttle)...)
	errs = append(errs, validateTimeouts(c.Timeouts, c.Resources)...)
	return errors.Join(errs...)
}

func validateIntegration(in Integration, stages []Stage, params []string, maxTimeout time.Duration) []error {
	var errs []error
	switch in.Type {
	case IntegrationHTTPProxy:
		if in.Mock != nil {
			errs = append(errs, errors.New("mock: only allowed with type MOCK"))
		}
	case IntegrationMock:
		if in.URI != "" || in.ConnectionType != "" || in.Timeout != 0 || len(in.RequestParameters) > 0 {
			errs = append(errs, errors.New("type: MOCK takes no uri, connectionType, timeout or requestParameters"))
		}
		return append(errs, validateMock(in.Mock)...)
	default:
		errs = append(errs, fmt.Errorf("type: must be HTTP_PROXY or MOCK, got %q", in.Type))
	}
	switch in.ConnectionType {
	case "", ConnectionInternet, ConnectionVPCLink:
	default:
		errs = append(errs, fmt.Errorf("connectionType: must be INTERNET or VPC_LINK, got %q", in.ConnectionType))
	}
	if in.Timeout != 0 && (in.Timeout < MinIntegrationTimeout || in.Timeout > maxTimeout) {
		limit := "29s"
		if maxTimeout != MaxIntegrationTimeout {
			limit = maxTimeout.String() + " (maxIntegrationTimeout)"
		}
		errs = append(errs, fmt.Errorf("timeout: must be between 50ms and %s, got %s", limit, in.Timeout))
	}
	errs = append(errs, validateRequestParameters(in.RequestParameters, params)...)
	// The URI is checked as each stage expands it; a problem shared by all
	// stages is reported once.
	seen := map[string]bool{}
	for _, st := range stages {
		for _, err := range validateURI(in.URI, st.Variables, params) {
			msg := err.Error()
			if len(stages) > 1 {
				msg += fmt.Sprintf(" (stage %q)", st.Name)
				if seen[err.Error()] {
					continue
				}
			}
			seen[err.Error()] = true
			errs = append(errs, fmt.Errorf("uri: %s", msg))
		}
	}
	return errs
}

func validateURI(raw string, vars map[string]string, params []string) []error {
	uri, err := substituteStageVars(raw, vars)
	if err != nil {
		return []error{err}
	}
	tmpl, err := parseURITemplate(uri)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, name := range tmpl.params() {
		if !slices.Contains(params, name) {
			errs = append(errs, fmt.Errorf("{%s} is not a path parameter of the resource", name))
		}
	}
	return errs
}

func validateResponse(typ string, rt ResponseTemplate) []error {
	var errs []error
	f := "responses." + typ
	if _, ok := responseDefaults[typ]; !ok {
		errs = append(errs, fmt.Errorf("%s: unknown gateway response type", f))
	}
	if rt.StatusCode != 0 && (rt.StatusCode < 200 || rt.StatusCode > 599) {
		errs = append(errs, fmt.Errorf("%s.statusCode: must be 0 (type default) or 200-599, got %d", f, rt.StatusCode))
	}
	for _, name := range sortedKeys(rt.Headers) {
		if !headerNameRe().MatchString(name) {
			errs = append(errs, fmt.Errorf("%s.headers.%s: invalid header name", f, name))
		}
		if strings.ContainsAny(rt.Headers[name], "\r\n\x00") {
			errs = append(errs, fmt.Errorf("%s.headers.%s: value must not contain CR, LF or NUL", f, name))
		}
	}
	return errs
}

// substituteStageVars replaces ${stageVariables.x}; an undefined variable is an error.
func substituteStageVars(s string, vars map[string]string) (string, error) {
	var missing []string
	out := stageVarRef().ReplaceAllStringFunc(s, func(m string) string {
		name := stageVarRef().FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("stage variable %q is not defined", missing[0])
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
