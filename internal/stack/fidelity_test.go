package stack

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// parseEdited renders the built-in stack as YAML, lets edit change it as
// generic YAML data, and parses the result: the test speaks the file's own
// field names.
func parseEdited(t *testing.T, edit func(m map[string]any)) (Config, error) {
	t.Helper()
	data, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = yaml.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return Parse(data)
}

func yamlItem(m map[string]any, path ...any) map[string]any {
	var cur any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}

func TestTargetGroupUnhealthyTerminationYAML(t *testing.T) {
	cfg, err := parseEdited(t, func(m map[string]any) {
		tg := yamlItem(m, "nlb", "targetGroups", 1)
		tg["unhealthyConnectionTermination"] = false
		tg["unhealthyDrainingInterval"] = "2m"
	})
	if err != nil {
		t.Fatal(err)
	}
	nc := cfg.NLBComponent(nil)
	tg := nc.TargetGroups[1]
	if tg.UnhealthyConnectionTermination == nil || *tg.UnhealthyConnectionTermination || tg.UnhealthyDrainingInterval != 2*time.Minute {
		t.Errorf("target group: %+v", tg)
	}
	if tg := nc.TargetGroups[0]; tg.UnhealthyConnectionTermination != nil {
		t.Errorf("unset unhealthyConnectionTermination: %v, want nil (the load balancer's default, true)", *tg.UnhealthyConnectionTermination)
	}

	_, err = parseEdited(t, func(m map[string]any) {
		yamlItem(m, "nlb", "targetGroups", 0)["unhealthyDrainingInterval"] = "30s"
	})
	if want := "nlb.targetGroups[0].unhealthyDrainingInterval: only with unhealthyConnectionTermination false"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("draining interval with termination on: %v, want %q", err, want)
	}
}

func TestServiceCircuitBreakerYAML(t *testing.T) {
	cfg, err := parseEdited(t, func(m map[string]any) {
		yamlItem(m, "services", 1)["deploymentCircuitBreaker"] = map[string]any{"enable": true, "rollback": true}
	})
	if err != nil {
		t.Fatal(err)
	}
	ec := cfg.ECSComponent("/state", "/portway", noRegistrar{}, nil)
	if cb := ec.Services[1].DeploymentCircuitBreaker; cb == nil || !cb.Enable || !cb.Rollback {
		t.Errorf("services[1].deploymentCircuitBreaker = %+v", cb)
	}
	if cb := ec.Services[0].DeploymentCircuitBreaker; cb != nil {
		t.Errorf("services[0] has a circuit breaker it was not given: %+v", cb)
	}

	_, err = parseEdited(t, func(m map[string]any) {
		yamlItem(m, "services", 0)["deploymentCircuitBreaker"] = map[string]any{"rollback": true}
	})
	if want := "services[0].deploymentCircuitBreaker.rollback: needs enable: true"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rollback without enable: %v, want %q", err, want)
	}
	_, err = parseEdited(t, func(m map[string]any) {
		yamlItem(m, "services", 0)["deploymentCircuitBreaker"] = map[string]any{"enabled": true}
	})
	if want := "services[0].deploymentCircuitBreaker.enabled: unknown field; did you mean enable?"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("misspelt field: %v", err)
	}
}

func TestNoScopeCognitoMethodWarns(t *testing.T) {
	// The built-in stack: every authorized method has scopes, or the
	// default client's access tokens would get 401 (AWS takes ID tokens
	// only on a COGNITO_USER_POOLS method without scopes).
	def := Default()
	for i, r := range def.Gateway.Resources {
		for j, m := range r.Methods {
			if m.Authorization == "COGNITO_USER_POOLS" && len(m.Scopes) == 0 {
				t.Errorf("built-in gateway.resources[%d].methods[%d] (%s) has no scopes", i, j, r.Path)
			}
		}
	}
	if w := def.Warnings(); len(w) != 0 {
		t.Errorf("built-in stack warns: %q", w)
	}

	cfg, err := parseEdited(t, func(m map[string]any) {
		delete(yamlItem(m, "gateway", "resources", 2, "methods", 0), "scopes")
	})
	if err != nil {
		t.Fatalf("a method without scopes is valid (a warning, not an error): %v", err)
	}
	want := "gateway.resources[2].methods[0]: COGNITO_USER_POOLS without scopes accepts only ID tokens; client-credentials access tokens get 401"
	if w := cfg.Warnings(); len(w) != 1 || w[0] != want {
		t.Fatalf("Warnings() = %q, want [%q]", w, want)
	}
	var buf strings.Builder
	cfg.LogWarnings(slog.New(slog.NewTextHandler(&buf, nil)))
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "gateway.resources[2].methods[0]") {
		t.Fatalf("LogWarnings wrote %q", buf.String())
	}
}

func TestGatewayForwardedHeadersYAML(t *testing.T) {
	// The built-in storage apps build their Location headers from
	// X-Forwarded-Host and -Prefix, which AWS does not send: the built-in
	// stack turns them on; a stack file without the field leaves them off.
	if fh := Default().GatewayComponent("http://i", "http://j", nil).ForwardedHeaders; !fh.Host || !fh.Prefix {
		t.Fatalf("built-in stack: forwardedHeaders %+v, want host and prefix on", fh)
	}
	cfg, err := parseEdited(t, func(m map[string]any) { delete(yamlItem(m, "gateway"), "forwardedHeaders") })
	if err != nil {
		t.Fatal(err)
	}
	if fh := cfg.GatewayComponent("http://i", "http://j", nil).ForwardedHeaders; fh.Host || fh.Prefix {
		t.Fatalf("without the field: %+v, want both off", fh)
	}
	cfg, err = parseEdited(t, func(m map[string]any) {
		yamlItem(m, "gateway")["forwardedHeaders"] = map[string]any{"host": true}
	})
	if err != nil {
		t.Fatal(err)
	}
	if fh := cfg.GatewayComponent("http://i", "http://j", nil).ForwardedHeaders; !fh.Host || fh.Prefix {
		t.Fatalf("host only: %+v", fh)
	}
	_, err = parseEdited(t, func(m map[string]any) {
		yamlItem(m, "gateway")["forwardedHeaders"] = map[string]any{"proto": true}
	})
	if err == nil || !strings.Contains(err.Error(), "proto") {
		t.Fatalf("unknown forwardedHeaders field: %v", err)
	}
}

func TestGatewayMaxIntegrationTimeoutYAML(t *testing.T) {
	setTimeout := func(m map[string]any, d string) {
		yamlItem(m, "gateway", "resources", 0, "methods", 0, "integration")["timeout"] = d
	}
	_, err := parseEdited(t, func(m map[string]any) { setTimeout(m, "45s") })
	if err == nil || !strings.Contains(err.Error(), "gateway.resources[0].methods[0].integration.timeout: must be between 50ms and 29s, got 45s") {
		t.Fatalf("45s without a raised limit: %v", err)
	}
	cfg, err := parseEdited(t, func(m map[string]any) {
		setTimeout(m, "45s")
		yamlItem(m, "gateway")["maxIntegrationTimeout"] = "1m"
	})
	if err != nil {
		t.Fatalf("45s under maxIntegrationTimeout 1m: %v", err)
	}
	if gc := cfg.GatewayComponent("http://i", "http://j", nil); gc.MaxIntegrationTimeout != time.Minute {
		t.Fatalf("maxIntegrationTimeout %s", gc.MaxIntegrationTimeout)
	}
	_, err = parseEdited(t, func(m map[string]any) { yamlItem(m, "gateway")["maxIntegrationTimeout"] = "5s" })
	if err == nil || !strings.Contains(err.Error(), "gateway.maxIntegrationTimeout: must be between 29s") {
		t.Fatalf("maxIntegrationTimeout 5s: %v", err)
	}
}
