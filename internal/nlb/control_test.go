package nlb

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// controlServer serves the control API of an unstarted load balancer with
// groups "tg" (listener on port 0) and "spare" (no listener).
func controlServer(t *testing.T) (*LoadBalancer, *httptest.Server) {
	cfg := testConfig(t, 0)
	cfg.TargetGroups[0].HealthCheck.Port = 0
	cfg.TargetGroups = append(cfg.TargetGroups, TargetGroupConfig{Name: "spare", Port: 8080,
		HealthCheck: HealthCheck{Protocol: ProtocolTCP, Port: 8081}, DeregistrationDelay: 90 * time.Second})
	lb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(lb.ControlHandler())
	t.Cleanup(srv.Close)
	return lb, srv
}

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, m
}

// at walks a decoded JSON value: at(m, "A", 0, "B").
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func TestControlRegisterDescribe(t *testing.T) {
	lb, srv := controlServer(t)
	code, body := call(t, srv, "POST", "/elbv2/RegisterTargets",
		`{"TargetGroupName":"tg","Targets":[{"Id":"127.77.1.2","Port":9000},{"Id":"127.77.1.1"}]}`)
	if code != 200 || len(body) != 0 {
		t.Fatalf("RegisterTargets: %d %v", code, body)
	}
	code, body = call(t, srv, "GET", "/elbv2/DescribeTargetHealth?TargetGroupName=tg", "")
	if code != 200 {
		t.Fatalf("DescribeTargetHealth: %d %v", code, body)
	}
	descs, _ := body["TargetHealthDescriptions"].([]any)
	if len(descs) != 2 {
		t.Fatalf("descriptions: %v", body)
	}
	checks := map[string]any{
		"Target.Id":                "127.77.1.1",
		"Target.Port":              9000.0, // zero port: the group's port
		"HealthCheckPort":          "9000",
		"TargetHealth.State":       "initial",
		"TargetHealth.Reason":      "Elb.RegistrationInProgress",
		"TargetHealth.Description": "Target registration is in progress",
		"Connections":              0.0,
		"ActiveConnections":        0.0,
	}
	for path, want := range checks {
		var p []any
		for _, s := range strings.Split(path, ".") {
			p = append(p, s)
		}
		if got := at(descs[0], p...); got != want {
			t.Errorf("TargetHealthDescriptions[0].%s = %#v, want %#v", path, got, want)
		}
	}

	// By ARN, with explicit targets: unregistered ones are "unused".
	_, groups := call(t, srv, "GET", "/elbv2/DescribeTargetGroups?Names=tg", "")
	arn, _ := at(groups, "TargetGroups", 0, "TargetGroupArn").(string)
	if !strings.HasPrefix(arn, "arn:aws:elasticloadbalancing:") || !strings.Contains(arn, ":targetgroup/tg/") {
		t.Fatalf("ARN %q", arn)
	}
	code, body = call(t, srv, "POST", "/elbv2/DescribeTargetHealth",
		`{"TargetGroupArn":"`+arn+`","Targets":[{"Id":"127.77.1.2","Port":9000},{"Id":"127.77.1.9","Port":9000}]}`)
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	if s := at(body, "TargetHealthDescriptions", 0, "TargetHealth", "State"); s != "initial" {
		t.Errorf("registered target state %v", s)
	}
	unused := at(body, "TargetHealthDescriptions", 1, "TargetHealth")
	if at(unused, "State") != "unused" || at(unused, "Reason") != "Target.NotRegistered" ||
		at(unused, "Description") != "Target is not registered to the target group" {
		t.Errorf("unregistered target: %v", unused)
	}

	// Deregistering (not started, no connections): gone at once.
	code, body = call(t, srv, "POST", "/elbv2/DeregisterTargets",
		`{"TargetGroupArn":"`+arn+`","Targets":[{"Id":"127.77.1.2","Port":9000}]}`)
	if code != 200 {
		t.Fatalf("DeregisterTargets: %d %v", code, body)
	}
	ds, _ := lb.DescribeTargetHealth("tg")
	if len(ds) != 1 || ds[0].Target.ID != "127.77.1.1" {
		t.Fatalf("after deregistration: %+v", ds)
	}

	// A group no listener uses: targets are unused (Target.NotInUse).
	call(t, srv, "POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"spare","Targets":[{"Id":"127.77.1.3"}]}`)
	_, body = call(t, srv, "GET", "/elbv2/DescribeTargetHealth?TargetGroupName=spare", "")
	h := at(body, "TargetHealthDescriptions", 0)
	if at(h, "TargetHealth", "Reason") != "Target.NotInUse" || at(h, "HealthCheckPort") != "8081" || at(h, "Target", "Port") != 8080.0 {
		t.Errorf("spare group target: %v", h)
	}
}

func TestControlDescribeTargetGroupsAndListeners(t *testing.T) {
	lb, srv := controlServer(t)
	code, body := call(t, srv, "GET", "/elbv2/DescribeTargetGroups", "")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	tg := at(body, "TargetGroups", 0)
	want := map[string]any{
		"TargetGroupName":            "tg",
		"Port":                       9000.0,
		"Protocol":                   "TCP",
		"TargetType":                 "ip",
		"HealthCheckProtocol":        "HTTP",
		"HealthCheckPath":            "/health",
		"HealthCheckPort":            "traffic-port",
		"HealthCheckEnabled":         true,
		"HealthCheckIntervalSeconds": 1.0, // 300ms rounds up
		"HealthCheckTimeoutSeconds":  1.0,
		"HealthCheckIntervalMillis":  300.0,
		"HealthyThresholdCount":      2.0,
		"UnhealthyThresholdCount":    2.0,
		"DeregistrationDelaySeconds": 5.0,
	}
	for k, v := range want {
		if got := at(tg, k); got != v {
			t.Errorf("TargetGroups[0].%s = %#v, want %#v", k, got, v)
		}
	}
	if got := at(tg, "Matcher", "HttpCode"); got != "200-399" {
		t.Errorf("Matcher.HttpCode = %v", got)
	}
	if arns, _ := at(tg, "LoadBalancerArns").([]any); len(arns) != 1 {
		t.Errorf("LoadBalancerArns = %v", at(tg, "LoadBalancerArns"))
	}
	spare := at(body, "TargetGroups", 1)
	if at(spare, "HealthCheckProtocol") != "TCP" || at(spare, "Matcher") != nil || at(spare, "HealthCheckPort") != "8081" ||
		at(spare, "HealthCheckIntervalSeconds") != 30.0 || at(spare, "HealthCheckTimeoutSeconds") != 10.0 {
		t.Errorf("spare group: %v", spare)
	}
	if arns, _ := at(spare, "LoadBalancerArns").([]any); len(arns) != 0 {
		t.Errorf("unused group LoadBalancerArns = %v", arns)
	}

	code, body = call(t, srv, "POST", "/elbv2/DescribeListeners", "")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	l := at(body, "Listeners", 0)
	if at(l, "Protocol") != "TCP" || at(l, "DefaultActions", 0, "Type") != "forward" ||
		at(l, "DefaultActions", 0, "TargetGroupArn") != at(tg, "TargetGroupArn") ||
		at(l, "DefaultActions", 0, "ForwardConfig", "TargetGroups", 0, "Weight") != 1.0 ||
		at(l, "LoadBalancerArn") != at(tg, "LoadBalancerArns", 0) {
		t.Errorf("listener: %v", l)
	}

	// Attributes under their AWS keys.
	attrs := func(body map[string]any) map[string]any {
		out := map[string]any{}
		list, _ := body["Attributes"].([]any)
		for _, a := range list {
			out[at(a, "Key").(string)] = at(a, "Value")
		}
		return out
	}
	code, body = call(t, srv, "GET", "/elbv2/DescribeTargetGroupAttributes?TargetGroupArn="+at(tg, "TargetGroupArn").(string), "")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	got := attrs(body)
	for k, v := range map[string]string{
		"deregistration_delay.timeout_seconds":                         "5",
		"deregistration_delay.connection_termination.enabled":          "false",
		"proxy_protocol_v2.enabled":                                    "false",
		"preserve_client_ip.enabled":                                   "false",
		"target_health_state.unhealthy.connection_termination.enabled": "true",
		"target_health_state.unhealthy.draining_interval_seconds":      "0",
	} {
		if got[k] != v {
			t.Errorf("target group attribute %s = %v, want %s", k, got[k], v)
		}
	}
	lb.groups["spare"].cfg.ProxyProtocolV2 = true // as if configured
	lb.groups["spare"].cfg.ConnectionTermination = true
	lb.groups["spare"].cfg.UnhealthyConnectionTermination = boolPtr(false)
	lb.groups["spare"].cfg.UnhealthyDrainingInterval = 90 * time.Second
	_, body = call(t, srv, "POST", "/elbv2/DescribeTargetGroupAttributes", `{"TargetGroupName":"spare"}`)
	got = attrs(body)
	if got["proxy_protocol_v2.enabled"] != "true" || got["deregistration_delay.connection_termination.enabled"] != "true" ||
		got["deregistration_delay.timeout_seconds"] != "90" ||
		got["target_health_state.unhealthy.connection_termination.enabled"] != "false" ||
		got["target_health_state.unhealthy.draining_interval_seconds"] != "90" {
		t.Errorf("spare attributes: %v", got)
	}
	code, body = call(t, srv, "GET", "/elbv2/DescribeListenerAttributes?ListenerArn="+at(l, "ListenerArn").(string), "")
	if code != 200 || attrs(body)["tcp.idle_timeout.seconds"] != "350" {
		t.Errorf("listener attributes: %d %v", code, body)
	}
}

func TestControlErrors(t *testing.T) {
	_, srv := controlServer(t)
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"nope","Targets":[{"Id":"127.0.0.2"}]}`, 400, "TargetGroupNotFound"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupArn":"arn:aws:elasticloadbalancing:x:1:targetgroup/tg/1","Targets":[{"Id":"127.0.0.2"}]}`, 400, "TargetGroupNotFound"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","Targets":[{"Id":"i-0123456789","Port":9000}]}`, 400, "InvalidTarget"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","Targets":[{"Id":"127.0.0.2","Port":70000}]}`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","Targets":[]}`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"Targets":[{"Id":"127.0.0.2"}]}`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","TargetGroupArn":"x","Targets":[{"Id":"127.0.0.2"}]}`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg",`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","Bogus":1}`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"tg","Targets":[{"Id":"127.0.0.2"}]}{}`, 400, "ValidationError"},
		{"POST", "/elbv2/RegisterTargets", `{"TargetGroupName":"` + strings.Repeat("x", 2<<20) + `"}`, 400, "ValidationError"},
		{"POST", "/elbv2/DeregisterTargets", `{"TargetGroupName":"tg","Targets":[{"Id":"127.0.0.9"}]}`, 400, "InvalidTarget"},
		{"GET", "/elbv2/RegisterTargets", ``, 405, "InvalidAction"},
		{"DELETE", "/elbv2/DescribeTargetHealth", ``, 405, "InvalidAction"},
		{"GET", "/elbv2/DescribeTargetHealth", ``, 400, "ValidationError"},
		{"GET", "/elbv2/DescribeTargetHealth?TargetGroupName=nope", ``, 400, "TargetGroupNotFound"},
		{"GET", "/elbv2/DescribeTargetGroups?Names=tg,nope", ``, 400, "TargetGroupNotFound"},
		{"GET", "/elbv2/DescribeTargetGroups?LoadBalancerArn=arn:nope", ``, 400, "LoadBalancerNotFound"},
		{"GET", "/elbv2/CreateLoadBalancer", ``, 400, "InvalidAction"},
		{"GET", "/other", ``, 400, "InvalidAction"},
		{"GET", "/elbv2/DescribeTargetGroupAttributes", ``, 400, "ValidationError"},
		{"GET", "/elbv2/DescribeTargetGroupAttributes?TargetGroupName=nope", ``, 400, "TargetGroupNotFound"},
		{"GET", "/elbv2/DescribeListenerAttributes", ``, 400, "ValidationError"},
		{"GET", "/elbv2/DescribeListenerAttributes?ListenerArn=arn:nope", ``, 400, "ListenerNotFound"},
		{"PUT", "/elbv2/DescribeListenerAttributes", ``, 405, "InvalidAction"},
	}
	for _, tt := range tests {
		name := tt.method + " " + tt.path + " " + tt.body
		if len(name) > 120 {
			name = name[:120]
		}
		t.Run(name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.body)
			if status != tt.status || at(body, "Error", "Code") != tt.code {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
			if msg, _ := at(body, "Error", "Message").(string); msg == "" || strings.HasPrefix(msg, tt.code) {
				t.Errorf("message %q", msg)
			}
		})
	}
}
