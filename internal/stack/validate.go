package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/lazyre"
)

// clientFileName is what a declared client's name may be: it names its
// credentials file.
var clientFileName = lazyre.New(`^[A-Za-z0-9._-]{1,64}$`)

// Validate checks the stack as a whole: required fields, names and the
// references between parts (listeners to target groups, services to target
// groups, method scopes to resource servers). Each component checks its own
// fields again when it is built, with errors named after the same YAML paths.
func (c Config) Validate() error {
	var errs []error
	if c.autoBlock() {
		// Neither address set: `portway up` picks the block (block.go).
		c = c.WithBlock(DefaultBlock())
	}
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	checkListen := func(field, addr string) {
		if addr == "" {
			add(field, "must be set (host:port; port 0 picks a free port)")
			return
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			add(field, "%q is not host:port", addr)
		}
	}

	checkListen("auth.listen", c.Auth.Listen)
	if c.Auth.UserPoolID == "" {
		add("auth.userPoolId", "must be set")
	}
	scopes := map[string]bool{}
	for i, rs := range c.Auth.ResourceServers {
		f := fmt.Sprintf("auth.resourceServers[%d]", i)
		if rs.Identifier == "" {
			add(f+".identifier", "must be set")
		}
		if len(rs.Scopes) == 0 {
			add(f+".scopes", "must list at least one scope")
		}
		for j, s := range rs.Scopes {
			if s == "" || strings.ContainsAny(s, " /") {
				add(fmt.Sprintf("%s.scopes[%d]", f, j), "%q must be non-empty, without spaces or slashes", s)
			}
			scopes[rs.Identifier+"/"+s] = true
		}
	}
	for i, s := range c.Auth.DefaultClient.Scopes {
		if !scopes[s] {
			add(fmt.Sprintf("auth.defaultClient.scopes[%d]", i), "%q is not a scope of any resource server", s)
		}
	}
	clientNames := map[string]bool{c.Auth.DefaultClient.Name: true}
	for i, cl := range c.Auth.Clients {
		f := fmt.Sprintf("auth.clients[%d]", i)
		if !clientFileName().MatchString(cl.Name) {
			add(f+".name", "%q must be 1-64 characters of letters, digits, '-', '_' or '.'", cl.Name)
		} else if clientNames[cl.Name] {
			add(f+".name", "%q is used twice (the default client counts)", cl.Name)
		}
		clientNames[cl.Name] = true
		for j, s := range cl.Scopes {
			if !scopes[s] {
				add(fmt.Sprintf("%s.scopes[%d]", f, j), "%q is not a scope of any resource server", s)
			}
		}
		if cl.AllowedOAuthFlows != nil {
			for j, fl := range *cl.AllowedOAuthFlows {
				if fl != "client_credentials" {
					add(fmt.Sprintf("%s.allowedOAuthFlows[%d]", f, j), "%q is not supported (only client_credentials)", fl)
				}
			}
		}
		if v := cl.TokenValidity; v != 0 && (v < 5*time.Minute || v > 24*time.Hour) {
			add(f+".tokenValidity", "%s must be between 5m and 24h", v)
		}
	}

	checkListen("gateway.listen", c.Gateway.Listen)
	c.Gateway.AccessLog.validate(add)
	checkListen("control.listen", c.Control.Listen)
	switch c.Gateway.Responses {
	case "", "aws", "storage":
	default:
		add("gateway.responses", "%q is not one of: aws, storage", c.Gateway.Responses)
	}
	for i, r := range c.Gateway.Resources {
		for j, m := range r.Methods {
			for k, s := range m.Scopes {
				if !scopes[s] {
					add(c.methodField(i, j)+fmt.Sprintf(".scopes[%d]", k),
						"%q is not a scope of any resource server in auth.resourceServers", s)
				}
			}
		}
	}

	switch c.NLB.GatewayLink {
	case "", LinkInProcess, LinkTCP:
	default:
		add("nlb.gatewayLink", "must be %q or %q, got %q", LinkInProcess, LinkTCP, c.NLB.GatewayLink)
	}
	if c.NLB.Address == "" || c.Tasks.Subnet == "" {
		_, err := c.configBlock()
		errs = append(errs, err)
	} else if _, err := netip.ParseAddr(c.NLB.Address); err != nil {
		add("nlb.address", "%q is not an IP address", c.NLB.Address)
	}
	groups := map[string]bool{}
	for i, tg := range c.NLB.TargetGroups {
		if tg.Name == "" {
			add(fmt.Sprintf("nlb.targetGroups[%d].name", i), "must be set")
		}
		if groups[tg.Name] {
			add(fmt.Sprintf("nlb.targetGroups[%d].name", i), "%q is used twice", tg.Name)
		}
		groups[tg.Name] = true
	}
	for i, l := range c.NLB.Listeners {
		if !groups[l.TargetGroup] {
			add(fmt.Sprintf("nlb.listeners[%d].targetGroup", i), "%q is not a target group in nlb.targetGroups", l.TargetGroup)
		}
	}

	if p, err := netip.ParsePrefix(c.Tasks.Subnet); c.Tasks.Subnet != "" && (err != nil || !p.Addr().Is4()) {
		add("tasks.subnet", "%q is not an IPv4 CIDR such as 127.77.1.0/24", c.Tasks.Subnet)
	}
	if st := c.Storage.Store; st != "" && !strings.HasPrefix(st, "postgres://") && !strings.HasPrefix(st, "postgresql://") {
		add("storage.store", "must be a PostgreSQL DSN (postgres://user:password@host:port/db); leave it empty for SQLite in the state dir")
	}
	if err := (egress.Config{Allow: c.Storage.Callbacks.Allow}).Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			errs = append(errs, errors.New("storage.callbacks."+line))
		}
	}
	if len(c.Services) == 0 {
		add("services", "must list at least one service")
	}
	names := map[string]bool{}
	for i, s := range c.Services {
		f := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			add(f+".name", "must be set")
		}
		if names[s.Name] {
			add(f+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		if s.DesiredCount < 0 {
			add(f+".desiredCount", "must not be negative")
		}
		if !groups[s.TargetGroup] {
			add(f+".targetGroup", "%q is not a target group in nlb.targetGroups", s.TargetGroup)
		}
		if len(s.Containers) == 0 {
			add(f+".containers", "must list at least one container")
		}
		found := false
		for j, ct := range s.Containers {
			if ct.Name == "" {
				add(fmt.Sprintf("%s.containers[%d].name", f, j), "must be set")
			}
			if len(ct.Command) == 0 && ct.Executable == "" && ct.Image == "" {
				add(fmt.Sprintf("%s.containers[%d].command", f, j), "must be set (or image, or executable)")
			}
			for k, kv := range ct.Environment {
				if kv.Name == "" || strings.ContainsAny(kv.Name, "= \t\n") {
					add(fmt.Sprintf("%s.containers[%d].environment[%d].name", f, j, k), "%q must be a variable name", kv.Name)
				}
			}
			found = found || ct.Name == s.ContainerName
		}
		if !found {
			add(f+".containerName", "%q is not one of the service's containers", s.ContainerName)
		}
	}
	errs = append(errs, c.validateTLS()...)
	errs = append(errs, c.checkWiring()...)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.validateComponents()
}

// validateComponents builds each component's config from the stack and runs
// its own Validate, reporting every problem under the stack file's path
// (auth.…, gateway.…, nlb.…, services[…]…). It runs before anything starts,
// so a bad field never leaves a half-started stack.
func (c Config) validateComponents() error {
	const stateDir = "/portway-state"
	checks := []struct {
		prefix string
		err    error
	}{
		{"auth.", c.AuthComponent(stateDir, nil).Validate()},
		{"gateway.", c.GatewayComponent("http://127.0.0.1/issuer", "http://127.0.0.1/jwks", nil).Validate()},
		{"nlb.", c.NLBComponent(nil).Validate()},
		{"", c.ECSComponent(stateDir, "/portway", noRegistrar{}, nil).Validate()},
	}
	var errs []error
	for _, ch := range checks {
		if ch.err == nil {
			continue
		}
		for _, line := range strings.Split(ch.err.Error(), "\n") {
			if ch.prefix == "" && strings.HasPrefix(line, "subnet:") {
				line = "tasks." + line
			}
			if ch.prefix == "gateway." && c.Gateway.OpenAPI != "" {
				if named, ok := c.openapiField(line); ok {
					errs = append(errs, errors.New(named))
					continue
				}
			}
			errs = append(errs, errors.New(ch.prefix+line))
		}
	}
	return errors.Join(errs...)
}

// noRegistrar stands in for the load balancer while validating.
type noRegistrar struct{}

func (noRegistrar) Register(context.Context, string, string, int) error   { return nil }
func (noRegistrar) Deregister(context.Context, string, string, int) error { return nil }

// Warnings lists what is valid but probably not meant, each line naming
// the YAML path of its field. A COGNITO_USER_POOLS method without scopes
// is one: AWS's authorizer then takes ID tokens only, so the access tokens
// of client credentials (all portway issues) get 401 (API Gateway API
// Reference, Method.authorizationScopes).
func (c Config) Warnings() []string {
	out := append([]string(nil), c.openapiNotes...)
	for i, r := range c.Gateway.Resources {
		for j, m := range r.Methods {
			if m.Authorization == gateway.AuthCognito && len(m.Scopes) == 0 {
				out = append(out, fmt.Sprintf("%s: COGNITO_USER_POOLS without scopes accepts only ID tokens; client-credentials access tokens get 401", c.methodField(i, j)))
			}
		}
	}
	for i, s := range c.Services {
		for j, ct := range s.Containers {
			if !ct.LogConfiguration.IsZero() {
				out = append(out, fmt.Sprintf("services[%d].containers[%d].logConfiguration: ignored; the container's output goes to its task log (`portway logs`)", i, j))
			}
		}
	}
	return out
}

// LogWarnings logs each of Warnings as a warning.
func (c Config) LogWarnings(log *slog.Logger) {
	for _, w := range c.Warnings() {
		log.Warn("config: " + w)
	}
}

// methodField names a method in the stack file's terms: its YAML path, or
// for resources from gateway.openapi the document's path and method.
func (c Config) methodField(i, j int) string {
	if c.Gateway.OpenAPI == "" {
		return fmt.Sprintf("gateway.resources[%d].methods[%d]", i, j)
	}
	r := c.Gateway.Resources[i]
	verb := strings.ToLower(r.Methods[j].HTTPMethod)
	if verb == "any" {
		verb = "x-amazon-apigateway-any-method"
	}
	return fmt.Sprintf("gateway.openapi (%s): paths.%s.%s", c.Gateway.OpenAPI, r.Path, verb)
}

var resourceMethodRe = lazyre.New(`^resources\[(\d+)\]\.methods\[(\d+)\]`)

// openapiField renames a gateway error about resources[i].methods[j] after
// the gateway.openapi document's path and method.
func (c Config) openapiField(line string) (string, bool) {
	m := resourceMethodRe().FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	i, _ := strconv.Atoi(m[1])
	j, _ := strconv.Atoi(m[2])
	if i >= len(c.Gateway.Resources) || j >= len(c.Gateway.Resources[i].Methods) {
		return "", false
	}
	return c.methodField(i, j) + line[len(m[0]):], true
}
