package nlb

import (
	"strings"
	"testing"
	"time"
)

func TestControlModifyTargetGroupAttributes(t *testing.T) {
	lb, srv := controlServer(t)
	code, body := call(t, srv, "POST", "/elbv2/ModifyTargetGroupAttributes",
		`{"TargetGroupName":"spare","Attributes":[{"Key":"deregistration_delay.timeout_seconds","Value":"5"},`+
			`{"Key":"target_health_state.unhealthy.connection_termination.enabled","Value":"false"},`+
			`{"Key":"target_health_state.unhealthy.draining_interval_seconds","Value":"30"}]}`)
	if code != 200 {
		t.Fatalf("ModifyTargetGroupAttributes: %d %v", code, body)
	}
	attrs := map[string]string{}
	for _, a := range body["Attributes"].([]any) {
		attrs[at(a, "Key").(string)] = at(a, "Value").(string)
	}
	if attrs[AttrDeregistrationDelay] != "5" || attrs[AttrUnhealthyConnectionTermination] != "false" || attrs[AttrUnhealthyDrainingInterval] != "30" {
		t.Errorf("attributes: %v", attrs)
	}
	c := lb.groups["spare"].config()
	if c.DeregistrationDelay != 5*time.Second || c.terminatesUnhealthy() || c.UnhealthyDrainingInterval != 30*time.Second {
		t.Errorf("group config: %+v", c)
	}
	// "0" is no delay, as in AWS.
	if _, err := lb.ModifyTargetGroupAttributes("spare", []Attribute{{AttrDeregistrationDelay, "0"}}); err != nil || lb.groups["spare"].config().DeregistrationDelay != 0 {
		t.Errorf("delay 0: %v", err)
	}

	code, body = call(t, srv, "POST", "/elbv2/ModifyTargetGroupAttributes",
		`{"TargetGroupName":"spare","Attributes":[{"Key":"deregistration_delay.timeout_seconds","Value":"9"},{"Key":"proxy_protocol_v2.enabled","Value":"true"}]}`)
	if code != 400 || at(body, "Error", "Code") != "ValidationError" || !strings.Contains(at(body, "Error", "Message").(string), "proxy_protocol_v2.enabled") {
		t.Errorf("unchangeable attribute: %d %v", code, body)
	}
	if lb.groups["spare"].config().DeregistrationDelay != 0 {
		t.Error("a refused request applied part of its attributes")
	}
	code, body = call(t, srv, "POST", "/elbv2/ModifyTargetGroupAttributes", `{"TargetGroupName":"spare","Attributes":[]}`)
	if code != 400 || at(body, "Error", "Code") != "ValidationError" {
		t.Errorf("no attributes: %d %v", code, body)
	}
}

func TestControlModifyTargetGroup(t *testing.T) {
	lb, srv := controlServer(t)
	code, body := call(t, srv, "POST", "/elbv2/ModifyTargetGroup",
		`{"TargetGroupName":"spare","HealthCheckProtocol":"HTTP","HealthCheckPath":"/ping","HealthCheckPort":"traffic-port",`+
			`"HealthCheckIntervalSeconds":10,"HealthCheckTimeoutSeconds":4,"HealthyThresholdCount":3,"UnhealthyThresholdCount":4,"Matcher":{"HttpCode":"200-299"}}`)
	if code != 200 {
		t.Fatalf("ModifyTargetGroup: %d %v", code, body)
	}
	tg := at(body, "TargetGroups", 0)
	for k, want := range map[string]any{"HealthCheckProtocol": "HTTP", "HealthCheckPath": "/ping", "HealthCheckPort": "traffic-port",
		"HealthCheckIntervalSeconds": 10.0, "HealthCheckTimeoutSeconds": 4.0, "HealthyThresholdCount": 3.0, "UnhealthyThresholdCount": 4.0} {
		if got := at(tg, k); got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if at(tg, "Matcher", "HttpCode") != "200-299" {
		t.Errorf("matcher: %v", tg)
	}
	hc := lb.groups["spare"].config().HealthCheck
	if hc.Port != 0 || hc.Interval != 10*time.Second || hc.HealthyThreshold != 3 {
		t.Errorf("group health check: %+v", hc)
	}
	code, body = call(t, srv, "POST", "/elbv2/ModifyTargetGroup", `{"TargetGroupName":"spare","HealthyThresholdCount":1}`)
	if code != 400 || !strings.Contains(at(body, "Error", "Message").(string), "HealthyThresholdCount: must be 2..10") {
		t.Errorf("bad threshold: %d %v", code, body)
	}
	if lb.groups["spare"].config().HealthCheck.HealthyThreshold != 3 {
		t.Error("a refused modification changed the group")
	}
}

func TestControlDescribeLoadBalancers(t *testing.T) {
	lb, srv := controlServer(t)
	code, body := call(t, srv, "GET", "/elbv2/DescribeLoadBalancers", "")
	if code != 200 || at(body, "LoadBalancers", 0, "LoadBalancerArn") != lb.arn || at(body, "LoadBalancers", 0, "Type") != "network" {
		t.Errorf("DescribeLoadBalancers: %d %v", code, body)
	}
	code, body = call(t, srv, "POST", "/elbv2/DescribeLoadBalancers", `{"Names":["other"]}`)
	if code != 400 || at(body, "Error", "Code") != "LoadBalancerNotFound" {
		t.Errorf("unknown load balancer: %d %v", code, body)
	}
}
