package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portway/portway/internal/trace"
)

func TestPrintTrace(t *testing.T) {
	tr := trace.Trace{TraceID: "1-5759e988-bd862e3fe1be46a994272793", RequestID: "req-1", Start: 1_796_613_429_770_869, Hops: []trace.HopView{
		{Offset: 0, Hop: trace.Hop{Kind: trace.KindGateway, Duration: 2160, Method: "GET", Path: "/v1/bags/x", Route: "/bags/{proxy+}", ClientID: "c1", Authorizer: "allow", Status: 404, Integration: 1120}},
		{Offset: 980, Hop: trace.Hop{Kind: trace.KindNLB, Duration: 201, Listener: "127.77.0.10:65534", TargetGroup: "bags", Target: "127.77.1.4:9000", FlowID: 3, Connect: 201, InProcess: true}},
		{Offset: 1000, Hop: trace.Hop{Kind: trace.KindNLB, Reused: true, FlowAge: 5000, Connect: 150, Target: "127.77.1.5:9000", FlowLife: 9000, FlowBytes: 4096}},
		{Offset: 1289, Hop: trace.Hop{Kind: trace.KindSidecar, Duration: 775, Status: 404, UpstreamStatus: 404, UpstreamTime: 757, Task: "t1"}},
		{Offset: 1520, Hop: trace.Hop{Kind: trace.KindApp, Duration: 372, Status: 404, Task: "t1", Method: "GET", Path: "/bags/x"}},
	}}
	var b bytes.Buffer
	printTrace(&b, tr)
	out := b.String()
	for _, want := range []string{
		"trace 1-5759e988-bd862e3fe1be46a994272793  request req-1  at 2026-",
		"        +0         2160  gateway  GET /v1/bags/x  route /bags/{proxy+}  client c1  authorizer allow  status 404  integration 1120µs",
		"      +980          201  nlb      listener 127.77.0.10:65534  targetGroup bags  target 127.77.1.4:9000  flow #3  connect 201µs  in-process link",
		"reused (opened 5000µs before, connect took 150µs)  flow closed after 9000µs, 4096 bytes",
		"     +1289          775  sidecar  task t1  status 404  upstreamStatus 404  upstreamTime 757µs",
		"     +1520          372  app      task t1  GET /bags/x  status 404",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	b.Reset()
	printTraceList(&b, []trace.Trace{tr})
	if !strings.Contains(b.String(), "404     GET     /v1/bags/x  c1      allow") {
		t.Errorf("list:\n%s", b.String())
	}
}
