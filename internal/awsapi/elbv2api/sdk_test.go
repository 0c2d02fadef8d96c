package elbv2api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/portway/portway/internal/awsapi/elbv2api"
	"github.com/portway/portway/internal/nlb"
	"github.com/portway/portway/internal/testutil"
)

// fixture is a started load balancer with groups "web" (in use, HTTP
// checks of /health) and "spare" (no listener), its Query API behind an
// httptest server, and an SDK client for it.
type fixture struct {
	lb      *nlb.LoadBalancer
	srv     *httptest.Server
	client  *elb.Client
	target  nlb.Target // a healthy HTTP server
	webArn  string
	lbArn   string
	jsonAPI http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(backend.Close)
	host, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	p, _ := strconv.Atoi(port)

	lb, err := nlb.New(nlb.Config{
		Name:    "test-nlb",
		Address: "127.0.0.1",
		Listeners: []nlb.ListenerConfig{
			{Port: 0, TargetGroup: "web"},
		},
		TargetGroups: []nlb.TargetGroupConfig{
			{Name: "web", Port: 80, HealthCheck: nlb.HealthCheck{Protocol: "HTTP", Path: "/health",
				Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2}},
			{Name: "spare", Port: 8080},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := lb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lb.Stop(ctx)
	})
	srv := httptest.NewServer(elbv2api.New(lb, nil))
	t.Cleanup(srv.Close)
	client := elb.New(elb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDPORTWAYTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   srv.Client(),
	})
	webArn, _ := lb.TargetGroupARN("web")
	return &fixture{lb: lb, srv: srv, client: client, target: nlb.Target{ID: host, Port: p},
		webArn: webArn, lbArn: lb.DescribeLoadBalancer().LoadBalancerArn, jsonAPI: lb.ControlHandler()}
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an AWS API error", err)
	}
	return ae.ErrorCode()
}

func TestDescribeLoadBalancersListenersTargetGroups(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	lbs, err := f.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lbs.LoadBalancers) != 1 {
		t.Fatalf("load balancers: %+v", lbs.LoadBalancers)
	}
	l := lbs.LoadBalancers[0]
	if aws.ToString(l.LoadBalancerName) != "test-nlb" || aws.ToString(l.LoadBalancerArn) != f.lbArn ||
		l.Type != types.LoadBalancerTypeEnumNetwork || l.State.Code != types.LoadBalancerStateEnumActive ||
		aws.ToString(l.DNSName) != "127.0.0.1" || l.CreatedTime == nil || l.CreatedTime.IsZero() {
		t.Errorf("load balancer: %+v", l)
	}
	_, err = f.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"other"}})
	var lnf *types.LoadBalancerNotFoundException
	if !errors.As(err, &lnf) {
		t.Errorf("unknown load balancer: got %v, want LoadBalancerNotFound", err)
	}

	ls, err := f.client.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(f.lbArn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Listeners) != 1 || ls.Listeners[0].Protocol != types.ProtocolEnumTcp ||
		aws.ToInt32(ls.Listeners[0].Port) == 0 || len(ls.Listeners[0].DefaultActions) != 1 ||
		aws.ToString(ls.Listeners[0].DefaultActions[0].TargetGroupArn) != f.webArn ||
		len(ls.Listeners[0].DefaultActions[0].ForwardConfig.TargetGroups) != 1 {
		t.Errorf("listeners: %+v", ls.Listeners)
	}
	byArn, err := f.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(ls.Listeners[0].ListenerArn)}})
	if err != nil || len(byArn.Listeners) != 1 {
		t.Errorf("listener by ARN: %v %+v", err, byArn)
	}
	_, err = f.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{"arn:nope"}})
	var lsnf *types.ListenerNotFoundException
	if !errors.As(err, &lsnf) {
		t.Errorf("unknown listener: got %v", err)
	}
	if _, err = f.client.DescribeListeners(ctx, &elb.DescribeListenersInput{}); apiCode(t, err) != "ValidationError" {
		t.Errorf("listeners without ARNs: %v", err)
	}

	all, err := f.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.TargetGroups) != 2 {
		t.Fatalf("target groups: %+v", all.TargetGroups)
	}
	web := all.TargetGroups[0]
	if aws.ToString(web.TargetGroupName) != "web" || aws.ToString(web.TargetGroupArn) != f.webArn ||
		web.HealthCheckProtocol != types.ProtocolEnumHttp || aws.ToString(web.HealthCheckPath) != "/health" ||
		aws.ToString(web.Matcher.HttpCode) != "200-399" || aws.ToInt32(web.HealthyThresholdCount) != 2 ||
		aws.ToString(web.HealthCheckPort) != "traffic-port" || !aws.ToBool(web.HealthCheckEnabled) ||
		web.TargetType != types.TargetTypeEnumIp || len(web.LoadBalancerArns) != 1 || web.LoadBalancerArns[0] != f.lbArn {
		t.Errorf("web: %+v", web)
	}
	if spare := all.TargetGroups[1]; len(spare.LoadBalancerArns) != 0 || spare.Matcher != nil || spare.HealthCheckProtocol != types.ProtocolEnumTcp {
		t.Errorf("spare: %+v", spare)
	}
	byName, err := f.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"spare"}})
	if err != nil || len(byName.TargetGroups) != 1 || aws.ToString(byName.TargetGroups[0].TargetGroupName) != "spare" {
		t.Errorf("by name: %v %+v", err, byName)
	}
	byArnTG, err := f.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{f.webArn}})
	if err != nil || len(byArnTG.TargetGroups) != 1 || aws.ToString(byArnTG.TargetGroups[0].TargetGroupName) != "web" {
		t.Errorf("by ARN: %v %+v", err, byArnTG)
	}
	byLB, err := f.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(f.lbArn)})
	if err != nil || len(byLB.TargetGroups) != 1 {
		t.Errorf("by load balancer: %v %+v", err, byLB)
	}
	_, err = f.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"nope"}})
	var tgnf *types.TargetGroupNotFoundException
	if !errors.As(err, &tgnf) || !strings.Contains(tgnf.ErrorMessage(), "nope") {
		t.Errorf("unknown group: got %v, want TargetGroupNotFound naming it", err)
	}
}

func healthOf(t *testing.T, f *fixture, ts ...types.TargetDescription) []types.TargetHealthDescription {
	t.Helper()
	out, err := f.client.DescribeTargetHealth(context.Background(), &elb.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(f.webArn), Targets: ts})
	if err != nil {
		t.Fatal(err)
	}
	return out.TargetHealthDescriptions
}

func TestRegisterDescribeDeregister(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	td := types.TargetDescription{Id: aws.String(f.target.ID), Port: aws.Int32(int32(f.target.Port))}

	if got := healthOf(t, f); len(got) != 0 {
		t.Fatalf("before registering: %+v", got)
	}
	unreg := healthOf(t, f, td)
	if len(unreg) != 1 || unreg[0].TargetHealth.State != types.TargetHealthStateEnumUnused ||
		unreg[0].TargetHealth.Reason != types.TargetHealthReasonEnumNotRegistered ||
		aws.ToString(unreg[0].TargetHealth.Description) != "Target is not registered to the target group" {
		t.Errorf("unregistered target: %+v", unreg)
	}

	if _, err := f.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(f.webArn),
		Targets: []types.TargetDescription{td}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "target healthy", func() bool {
		got := healthOf(t, f)
		return len(got) == 1 && got[0].TargetHealth.State == types.TargetHealthStateEnumHealthy
	})
	got := healthOf(t, f)[0]
	if aws.ToString(got.Target.Id) != f.target.ID || aws.ToInt32(got.Target.Port) != int32(f.target.Port) ||
		aws.ToString(got.HealthCheckPort) != strconv.Itoa(f.target.Port) || got.TargetHealth.Reason != "" {
		t.Errorf("healthy target: %+v %+v", got.Target, got.TargetHealth)
	}
	// The same change is visible through the JSON front door.
	if ths, _ := f.lb.DescribeTargetHealth("web"); len(ths) != 1 || ths[0].TargetHealth.State != nlb.StateHealthy {
		t.Errorf("nlb model: %+v", ths)
	}

	if _, err := f.client.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(f.webArn),
		Targets: []types.TargetDescription{td}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "target gone", func() bool { return len(healthOf(t, f)) == 0 })

	_, err := f.client.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(f.webArn),
		Targets: []types.TargetDescription{td}})
	var it *types.InvalidTargetException
	if !errors.As(err, &it) {
		t.Errorf("deregistering an unregistered target: %v, want InvalidTarget", err)
	}
	_, err = f.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(f.webArn),
		Targets: []types.TargetDescription{{Id: aws.String("10.9.9.9"), Port: aws.Int32(80)}}})
	if apiCode(t, err) != "ValidationError" || !strings.Contains(err.Error(), "10.9.9.9") {
		t.Errorf("registering outside the target CIDRs: %v", err)
	}
	_, err = f.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(f.webArn + "x"),
		Targets: []types.TargetDescription{td}})
	var tgnf *types.TargetGroupNotFoundException
	if !errors.As(err, &tgnf) {
		t.Errorf("unknown group ARN: %v", err)
	}
}

func attrMap(as []types.TargetGroupAttribute) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return m
}

func TestTargetGroupAttributes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	out, err := f.client.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(f.webArn)})
	if err != nil {
		t.Fatal(err)
	}
	if m := attrMap(out.Attributes); m["deregistration_delay.timeout_seconds"] != "300" || m["proxy_protocol_v2.enabled"] != "false" {
		t.Errorf("attributes: %v", m)
	}
	mod, err := f.client.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
		TargetGroupArn: aws.String(f.webArn),
		Attributes: []types.TargetGroupAttribute{
			{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("7")},
			{Key: aws.String("deregistration_delay.connection_termination.enabled"), Value: aws.String("true")},
			{Key: aws.String("stickiness.enabled"), Value: aws.String("false")}, // unchanged: accepted
		}})
	if err != nil {
		t.Fatal(err)
	}
	if m := attrMap(mod.Attributes); m["deregistration_delay.timeout_seconds"] != "7" || m["deregistration_delay.connection_termination.enabled"] != "true" {
		t.Errorf("modified attributes: %v", m)
	}
	// One model: the JSON front door and DescribeTargetGroups see it.
	if d, _ := f.lb.DescribeTargetGroups([]string{"web"}, nil, ""); d[0].DeregistrationDelaySeconds != 7 {
		t.Errorf("nlb model: deregistration delay %d", d[0].DeregistrationDelaySeconds)
	}

	for _, tc := range []struct{ key, value, want string }{
		{"deregistration_delay.timeout_seconds", "3601", "0 to 3600"},
		{"deregistration_delay.timeout_seconds", "soon", "integer"},
		{"proxy_protocol_v2.enabled", "true", "cannot be changed"},
		{"stickiness.enabled", "true", "cannot be changed"},
		{"no.such.attribute", "1", "not recognized"},
		{"target_health_state.unhealthy.draining_interval_seconds", "10", "can only be set when"},
	} {
		_, err := f.client.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
			TargetGroupArn: aws.String(f.webArn),
			Attributes:     []types.TargetGroupAttribute{{Key: aws.String(tc.key), Value: aws.String(tc.value)}}})
		if err == nil || apiCode(t, err) != "ValidationError" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: got %v, want ValidationError with %q", tc.key, tc.value, err, tc.want)
		}
	}
	if m := attrMap(mustAttrs(t, f)); m["deregistration_delay.timeout_seconds"] != "7" {
		t.Errorf("a refused modification changed something: %v", m)
	}
}

func mustAttrs(t *testing.T, f *fixture) []types.TargetGroupAttribute {
	out, err := f.client.DescribeTargetGroupAttributes(context.Background(), &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(f.webArn)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes
}

func TestModifyTargetGroupHealthCheck(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	td := types.TargetDescription{Id: aws.String(f.target.ID), Port: aws.Int32(int32(f.target.Port))}
	if _, err := f.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(f.webArn),
		Targets: []types.TargetDescription{td}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "target healthy", func() bool {
		got := healthOf(t, f)
		return len(got) == 1 && got[0].TargetHealth.State == types.TargetHealthStateEnumHealthy
	})

	// A path the target answers 418 on: it turns unhealthy with AWS's reason.
	out, err := f.client.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
		TargetGroupArn:          aws.String(f.webArn),
		HealthCheckPath:         aws.String("/nope"),
		UnhealthyThresholdCount: aws.Int32(3),
		Matcher:                 &types.Matcher{HttpCode: aws.String("200")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tg := out.TargetGroups[0]
	if aws.ToString(tg.HealthCheckPath) != "/nope" || aws.ToInt32(tg.UnhealthyThresholdCount) != 3 || aws.ToString(tg.Matcher.HttpCode) != "200" {
		t.Errorf("modified group: %+v", tg)
	}
	testutil.WaitFor(t, 10*time.Second, "target unhealthy", func() bool {
		got := healthOf(t, f)
		return len(got) == 1 && got[0].TargetHealth.State == types.TargetHealthStateEnumUnhealthy
	})
	th := healthOf(t, f)[0].TargetHealth
	if th.Reason != types.TargetHealthReasonEnumFailedHealthChecks || aws.ToString(th.Description) != "Health checks failed with these codes: [418]" {
		t.Errorf("unhealthy: %+v %s", th, aws.ToString(th.Description))
	}

	// TCP checks: path and matcher go; the target is healthy again.
	out, err = f.client.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
		TargetGroupArn: aws.String(f.webArn), HealthCheckProtocol: types.ProtocolEnumTcp})
	if err != nil {
		t.Fatal(err)
	}
	if tg := out.TargetGroups[0]; tg.HealthCheckProtocol != types.ProtocolEnumTcp || tg.HealthCheckPath != nil || tg.Matcher != nil {
		t.Errorf("TCP group: %+v", tg)
	}
	testutil.WaitFor(t, 10*time.Second, "target healthy on TCP checks", func() bool {
		got := healthOf(t, f)
		return len(got) == 1 && got[0].TargetHealth.State == types.TargetHealthStateEnumHealthy
	})

	for _, tc := range []struct {
		in   elb.ModifyTargetGroupInput
		want string
	}{
		{elb.ModifyTargetGroupInput{HealthyThresholdCount: aws.Int32(11)}, "HealthyThresholdCount: must be 2..10"},
		{elb.ModifyTargetGroupInput{HealthCheckIntervalSeconds: aws.Int32(301)}, "HealthCheckIntervalSeconds"},
		{elb.ModifyTargetGroupInput{HealthCheckTimeoutSeconds: aws.Int32(60), HealthCheckIntervalSeconds: aws.Int32(30)}, "HealthCheckTimeoutSeconds: must be less than interval"},
		{elb.ModifyTargetGroupInput{HealthCheckPath: aws.String("/x")}, "HealthCheckPath: not allowed with protocol TCP"},
		{elb.ModifyTargetGroupInput{HealthCheckProtocol: types.ProtocolEnumHttps}, "HealthCheckProtocol: must be HTTP or TCP"},
		{elb.ModifyTargetGroupInput{HealthCheckPort: aws.String("0")}, "HealthCheckPort"},
		{elb.ModifyTargetGroupInput{HealthCheckEnabled: aws.Bool(false)}, "cannot be disabled"},
	} {
		in := tc.in
		in.TargetGroupArn = aws.String(f.webArn)
		_, err := f.client.ModifyTargetGroup(ctx, &in)
		if err == nil || apiCode(t, err) != "ValidationError" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v", tc.want, err)
		}
	}
}

func TestAuthErrorShape(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elbv2api.New(f.lb, nil).WriteAuthError(w, r, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
	}))
	defer auth.Close()
	c := elb.New(elb.Options{Region: "us-east-1", BaseEndpoint: aws.String(auth.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "wrong", "")})
	_, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	if apiCode(t, err) != "SignatureDoesNotMatch" || !strings.Contains(err.Error(), "403") {
		t.Errorf("auth error: %v", err)
	}
}
