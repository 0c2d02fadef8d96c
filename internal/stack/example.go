package stack

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/portway/portway/internal/gateway"
)

// Example is a request the stack's gateway routes, for the ready summary
// and `portway token`'s hint: derived from the stack's own resources, so
// that a custom stack is never told to call the storage service.
type Example struct {
	Method string `json:"method"`
	// Path is the request path under the stage ("/bags/example"); URL the
	// whole URL once the stack runs.
	Path string `json:"path"`
	URL  string `json:"url,omitempty"`
	// Resource is the route's resource path ("/bags/{proxy+}").
	Resource string `json:"resource"`
	// Scope is a scope the route accepts that the default client holds;
	// empty for a route without authorization.
	Scope string `json:"scope,omitempty"`
}

// Example picks the request to show: the first GET (or ANY) route that
// takes a scope the default client holds, else the first GET route
// without authorization, else the first route of all. Path parameters
// become "example". ok is false for a gateway without routes.
func (c Config) Example() (ex Example, ok bool) {
	held := c.Auth.DefaultClient.Scopes
	if len(held) == 0 {
		held = c.AllScopes()
	}
	type pick struct {
		r     ResourceConfig
		m     MethodConfig
		scope string
	}
	var tiers [3]*pick
	for _, r := range c.Gateway.Resources {
		for _, m := range r.Methods {
			get := m.HTTPMethod == http.MethodGet || m.HTTPMethod == "ANY"
			scope := ""
			for _, s := range m.Scopes {
				if slices.Contains(held, s) {
					scope = s
					break
				}
			}
			tier := 2
			switch {
			case get && m.Authorization == gateway.AuthCognito && scope != "":
				tier = 0
			case get && (m.Authorization == "" || m.Authorization == gateway.AuthNone):
				tier = 1
			}
			if tiers[tier] == nil {
				tiers[tier] = &pick{r, m, scope}
			}
		}
	}
	for _, p := range tiers {
		if p == nil {
			continue
		}
		method := p.m.HTTPMethod
		if method == "ANY" {
			method = http.MethodGet
		}
		return Example{Method: method, Path: examplePath(p.r.Path), Resource: p.r.Path, Scope: p.scope}, true
	}
	return Example{}, false
}

// examplePath fills a resource path's parameters ({id}, {proxy+}).
func examplePath(resource string) string {
	segs := strings.Split(resource, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "example"
		}
	}
	p := strings.Join(segs, "/")
	if p == "" {
		p = "/"
	}
	return p
}

// Curl is the example as a curl command line; with a scope it sends
// $TOKEN. curl is the command to use ("curl", or with --cacert).
func (e Example) Curl(curl string) string {
	cmd := curl
	if e.Method != http.MethodGet {
		cmd += " -X " + e.Method
	}
	if e.Scope != "" {
		cmd += ` -H "Authorization: Bearer $TOKEN"`
	}
	return fmt.Sprintf("%s %s", cmd, e.URL)
}

// Describe says what the example is: "GET /bags/{proxy+}, scope …".
func (e Example) Describe() string {
	s := e.Method + " " + e.Resource
	if e.Scope != "" {
		s += " needs scope " + e.Scope
	} else {
		s += " needs no token"
	}
	return s
}
