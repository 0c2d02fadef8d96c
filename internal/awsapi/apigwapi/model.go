package apigwapi

import (
	"crypto/sha256"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/gateway"
)

// The REST API as API Gateway's control plane describes it, built once from
// the gateway's configuration.

// restAPI is an API Gateway RestApi.
type restAPI struct {
	ID                        string                `json:"id"`
	Name                      string                `json:"name"`
	Description               string                `json:"description,omitempty"`
	CreatedDate               epoch                 `json:"createdDate"`
	APIKeySource              string                `json:"apiKeySource"`
	EndpointConfiguration     endpointConfiguration `json:"endpointConfiguration"`
	DisableExecuteAPIEndpoint bool                  `json:"disableExecuteApiEndpoint"`
	RootResourceID            string                `json:"rootResourceId"`
}

type endpointConfiguration struct {
	Types []string `json:"types"`
}

// epoch is a timestamp as API Gateway's JSON carries it: seconds since the
// epoch, a number.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Time(e).Unix(), 10), nil
}

// resource is an API Gateway Resource.
type resource struct {
	ID              string             `json:"id"`
	ParentID        string             `json:"parentId,omitempty"`
	PathPart        string             `json:"pathPart,omitempty"`
	Path            string             `json:"path"`
	ResourceMethods map[string]*method `json:"resourceMethods,omitempty"`
}

// method is an API Gateway Method; only its key is shown unless embedded.
type method struct {
	HTTPMethod          string          `json:"httpMethod,omitempty"`
	AuthorizationType   string          `json:"authorizationType,omitempty"`
	AuthorizerID        string          `json:"authorizerId,omitempty"`
	APIKeyRequired      *bool           `json:"apiKeyRequired,omitempty"`
	AuthorizationScopes []string        `json:"authorizationScopes,omitempty"`
	RequestParameters   map[string]bool `json:"requestParameters,omitempty"`
	MethodIntegration   *integration    `json:"methodIntegration,omitempty"`
}

type integration struct {
	Type                string            `json:"type"`
	HTTPMethod          string            `json:"httpMethod"`
	URI                 string            `json:"uri"`
	ConnectionType      string            `json:"connectionType"`
	ConnectionID        string            `json:"connectionId,omitempty"`
	RequestParameters   map[string]string `json:"requestParameters,omitempty"`
	PassthroughBehavior string            `json:"passthroughBehavior"`
	TimeoutInMillis     int64             `json:"timeoutInMillis"`
	CacheNamespace      string            `json:"cacheNamespace"`
	CacheKeyParameters  []string          `json:"cacheKeyParameters"`
}

// stage is an API Gateway Stage.
type stage struct {
	DeploymentID        string                    `json:"deploymentId"`
	StageName           string                    `json:"stageName"`
	Variables           map[string]string         `json:"variables,omitempty"`
	MethodSettings      map[string]methodSettings `json:"methodSettings"`
	CacheClusterEnabled bool                      `json:"cacheClusterEnabled"`
	CacheClusterStatus  string                    `json:"cacheClusterStatus"`
	TracingEnabled      bool                      `json:"tracingEnabled"`
	CreatedDate         epoch                     `json:"createdDate"`
	LastUpdatedDate     epoch                     `json:"lastUpdatedDate"`
}

type methodSettings struct {
	MetricsEnabled       bool    `json:"metricsEnabled"`
	LoggingLevel         string  `json:"loggingLevel"`
	DataTraceEnabled     bool    `json:"dataTraceEnabled"`
	ThrottlingBurstLimit int     `json:"throttlingBurstLimit"`
	ThrottlingRateLimit  float64 `json:"throttlingRateLimit"`
	CachingEnabled       bool    `json:"cachingEnabled"`
}

// ID derives an API Gateway identifier (10 characters of [a-z0-9], AWS's
// shape) from seed, so that ids stay the same across restarts.
func ID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	s := new(big.Int).SetBytes(sum[:]).Text(36)
	return s[:10]
}

// model is the REST API, its resources (root first, then by path) and
// stages.
type model struct {
	api       restAPI
	resources []resource
	byID      map[string]int
	stages    []stage
}

func buildModel(cfg Config) *model {
	id := cfg.ID
	created := epoch(cfg.Created)
	m := &model{byID: map[string]int{}}
	root := resource{ID: ID(id + "/resource/"), Path: "/"}
	m.api = restAPI{
		ID: id, Name: cfg.Name, Description: cfg.Description, CreatedDate: created,
		APIKeySource: "HEADER", EndpointConfiguration: endpointConfiguration{Types: []string{"REGIONAL"}},
		RootResourceID: root.ID,
	}
	byPath := map[string]*resource{"/": &root}
	var order []string
	for _, gr := range cfg.Gateway.Resources {
		// Every ancestor of a path is a resource, with or without methods.
		parts := strings.Split(strings.TrimPrefix(gr.Path, "/"), "/")
		if gr.Path == "/" {
			parts = nil
		}
		parent := &root
		for i := range parts {
			path := "/" + strings.Join(parts[:i+1], "/")
			r, ok := byPath[path]
			if !ok {
				r = &resource{ID: ID(id + "/resource" + path), ParentID: parent.ID, PathPart: parts[i], Path: path}
				byPath[path] = r
				order = append(order, path)
			}
			parent = r
		}
		r := byPath[gr.Path]
		for _, gm := range gr.Methods {
			if r.ResourceMethods == nil {
				r.ResourceMethods = map[string]*method{}
			}
			r.ResourceMethods[strings.ToUpper(gm.HTTPMethod)] = buildMethod(id, r, gm, cfg.Gateway)
		}
	}
	sort.Strings(order)
	m.resources = append(m.resources, root)
	for _, p := range order {
		m.resources = append(m.resources, *byPath[p])
	}
	for i, r := range m.resources {
		m.byID[r.ID] = i
	}
	for _, s := range cfg.Gateway.AllStages() {
		st := stage{
			DeploymentID: ID(id + "/deployment"), StageName: s.Name, Variables: s.Variables,
			MethodSettings: map[string]methodSettings{}, CacheClusterStatus: "NOT_AVAILABLE",
			CreatedDate: created, LastUpdatedDate: created,
		}
		t := cfg.Gateway.Throttle
		if s.Throttle != nil {
			t = *s.Throttle
		}
		if t.RateLimit > 0 {
			st.MethodSettings["*/*"] = methodSettings{LoggingLevel: "OFF",
				ThrottlingBurstLimit: t.BurstLimit, ThrottlingRateLimit: t.RateLimit}
		}
		m.stages = append(m.stages, st)
	}
	return m
}

func buildMethod(apiID string, r *resource, gm gateway.Method, gc gateway.Config) *method {
	no := false
	auth := gm.Authorization
	if auth == "" {
		auth = gateway.AuthNone
	}
	m := &method{HTTPMethod: strings.ToUpper(gm.HTTPMethod), AuthorizationType: auth, APIKeyRequired: &no}
	if auth == gateway.AuthCognito {
		m.AuthorizerID = ID(apiID + "/authorizer")
		m.AuthorizationScopes = gm.Scopes
	}
	in := &integration{
		Type: gm.Integration.Type, HTTPMethod: "ANY", URI: gm.Integration.URI,
		ConnectionType: gm.Integration.ConnectionType, PassthroughBehavior: "WHEN_NO_MATCH",
		TimeoutInMillis: gateway.DefaultIntegrationTimeout.Milliseconds(),
		CacheNamespace:  r.ID, CacheKeyParameters: []string{},
	}
	if in.Type == "" {
		in.Type = gateway.IntegrationHTTPProxy
	}
	if in.ConnectionType == "" {
		in.ConnectionType = gateway.ConnectionInternet
	}
	if in.ConnectionType == gateway.ConnectionVPCLink {
		in.ConnectionID = ID(apiID + "/vpclink")
	}
	if gm.Integration.Timeout > 0 {
		in.TimeoutInMillis = gm.Integration.Timeout.Milliseconds()
	}
	// Path parameters reach the integration's URI as AWS maps them.
	for _, part := range strings.Split(r.Path, "/") {
		if !strings.HasPrefix(part, "{") || !strings.HasSuffix(part, "}") {
			continue
		}
		name := strings.TrimSuffix(part[1:len(part)-1], "+")
		if m.RequestParameters == nil {
			m.RequestParameters = map[string]bool{}
		}
		if in.RequestParameters == nil && strings.Contains(in.URI, "{"+name+"}") {
			in.RequestParameters = map[string]string{}
		}
		m.RequestParameters["method.request.path."+name] = true
		if strings.Contains(in.URI, "{"+name+"}") {
			in.RequestParameters["integration.request.path."+name] = "method.request.path." + name
		}
	}
	m.MethodIntegration = in
	return m
}

// summary is a resource as GetResources lists it without embed=methods:
// each method's key with an empty object.
func (r resource) summary() resource {
	if r.ResourceMethods == nil {
		return r
	}
	s := r
	s.ResourceMethods = map[string]*method{}
	for k := range r.ResourceMethods {
		s.ResourceMethods[k] = &method{}
	}
	return s
}
