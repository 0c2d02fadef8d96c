package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/storage/ingests"
)

func TestParseShowStat(t *testing.T) {
	out := "# pxname,svname,qcur,qmax,scur,status,weight\n" +
		"nlb,FRONTEND,,,0,OPEN,\n" +
		"targets,t0,0,0,0,UP,1\n" +
		"targets,t1,0,0,0,DOWN 1/2,1\n" +
		"targets,BACKEND,0,0,0,UP,2\n" +
		"other,x,0,0,0,UP,1\n\n"
	got, err := parseShowStat(out, "targets")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["t0"] != "UP" || got["t1"] != "DOWN 1/2" {
		t.Errorf("got %v", got)
	}
	if _, err := parseShowStat("# a,b\n1,2\n", "targets"); err == nil {
		t.Error("no error for a header without status")
	}
	if _, err := parseShowStat("", "targets"); err == nil {
		t.Error("no error for an empty answer")
	}
}

const tasksJSON = `{"tasks":[
 {"taskId":"a","service":"bags","lastStatus":"RUNNING","ip":"127.78.1.1","containers":[{"name":"nginx","pid":11},{"name":"app","pid":12}]},
 {"taskId":"b","service":"ingests","lastStatus":"STOPPED","ip":"127.78.1.2","containers":[{"name":"nginx","pid":0}]},
 {"taskId":"c","service":"ingests","lastStatus":"RUNNING","ip":"127.78.1.3","containers":[{"name":"app","pid":31},{"name":"nginx","pid":32}]}
]}`

func TestRunningSidecar(t *testing.T) {
	ip, pid, err := runningSidecar([]byte(tasksJSON), "ingests", "nginx")
	if err != nil || ip != "127.78.1.3" || pid != 32 {
		t.Errorf("= %q %d %v; want 127.78.1.3 32", ip, pid, err)
	}
	if _, _, err := runningSidecar([]byte(tasksJSON), "nope", "nginx"); err == nil {
		t.Error("no error for a service without tasks")
	}
	if _, _, err := runningSidecar([]byte("{"), "ingests", "nginx"); err == nil {
		t.Error("no error for bad JSON")
	}
}

func TestTargetDownIn(t *testing.T) {
	body := []byte(`{"TargetHealthDescriptions":[
	 {"Target":{"Id":"127.78.1.3","Port":9000},"TargetHealth":{"State":"healthy"}},
	 {"Target":{"Id":"127.78.1.4","Port":9000},"TargetHealth":{"State":"unhealthy"}}]}`)
	tests := map[string]bool{"127.78.1.3": false, "127.78.1.4": true, "127.78.1.9": true}
	for ip, want := range tests {
		got, err := targetDownIn(body, ip)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", ip, got, err, want)
		}
	}
}

func TestLargeIngestBody(t *testing.T) {
	prefix, pad, suffix, err := largeIngestBody(postBodyBytes)
	if err != nil {
		t.Fatal(err)
	}
	body := prefix + strings.Repeat("x", pad) + suffix
	if len(body) != postBodyBytes {
		t.Fatalf("len = %d, want %d", len(body), postBodyBytes)
	}
	if postBodyBytes > ingests.DefaultMaxBodyBytes {
		t.Fatalf("the body (%d) is over the app's limit (%d)", postBodyBytes, ingests.DefaultMaxBodyBytes)
	}
	if !json.Valid([]byte(body)) {
		t.Fatal("not valid JSON")
	}
	// The app accepts it: the padding is an unknown field.
	req, err := ingests.DecodeRequest([]byte(body))
	if err != nil {
		t.Fatalf("the app would refuse the body: %v", err)
	}
	if req.ExternalIdentifier != "bench-bag" {
		t.Errorf("decoded %+v", req)
	}
	if _, _, _, err := largeIngestBody(10); err == nil {
		t.Error("no error for a size below an ingest's")
	}
}

func TestSummarizeKill(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	window := 10 * time.Second
	tests := []struct {
		name     string
		outcomes []outcome
		downAt   time.Duration
		want     KillResult
	}{
		{
			name:     "errors stop",
			outcomes: []outcome{{at(-50), false}, {at(10), true}, {at(100), false}, {at(1500), false}, {at(1600), true}},
			downAt:   1200 * time.Millisecond,
			want:     KillResult{ClientErrorsMS: 1500, FailedRequests: 2, Requests: 4, MarkedDownMS: 1200, WindowMS: 10000},
		},
		{
			name:     "no errors",
			outcomes: []outcome{{at(10), true}, {at(20), true}},
			downAt:   -1,
			want:     KillResult{ClientErrorsMS: 0, Requests: 2, MarkedDownMS: -1, WindowMS: 10000},
		},
		{
			name:     "still failing at the end",
			outcomes: []outcome{{at(10), false}, {at(9500), false}},
			downAt:   -1,
			want:     KillResult{ClientErrorsMS: -1, FailedRequests: 2, Requests: 2, MarkedDownMS: -1, WindowMS: 10000},
		},
	}
	for _, tt := range tests {
		if got := summarizeKill(tt.outcomes, t0, window, tt.downAt); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			if o.Duration != 10*time.Second || o.Connections != 32 || o.Threads != 1 || o.Rounds != 3 || o.Warmup != 2*time.Second {
				t.Errorf("%+v", o)
			}
			if strings.Join(o.Scenarios, ",") != "get,post1m,lb1m,newconn,c64,kill" {
				t.Errorf("scenarios %v", o.Scenarios)
			}
			if o.TLS {
				t.Error("TLS on by default")
			}
		}},
		{name: "tls", args: []string{"-quick", "-tls", "-scenarios", "get,newconn"}, check: func(t *testing.T, o options) {
			if !o.TLS || o.Duration != time.Second || strings.Join(o.Scenarios, ",") != "get,newconn" {
				t.Errorf("%+v", o)
			}
		}},
		{name: "tls=false", args: []string{"-tls=false"}, check: func(t *testing.T, o options) {
			if o.TLS {
				t.Errorf("%+v", o)
			}
		}},
		{name: "tls takes no value", args: []string{"-tls", "yes"}, wantErr: "unexpected arguments"},
		{name: "quick", args: []string{"-quick", "-json"}, check: func(t *testing.T, o options) {
			if o.Duration != time.Second || o.Rounds != 1 || o.Warmup != 0 || o.KillWindow != 6*time.Second || !o.JSON {
				t.Errorf("%+v", o)
			}
		}},
		{name: "quick keeps explicit flags", args: []string{"-quick", "-duration", "2s", "-rounds", "2"}, check: func(t *testing.T, o options) {
			if o.Duration != 2*time.Second || o.Rounds != 2 {
				t.Errorf("%+v", o)
			}
		}},
		{name: "scenario list", args: []string{"-scenarios", " get, c64 "}, check: func(t *testing.T, o options) {
			if strings.Join(o.Scenarios, ",") != "get,c64" {
				t.Errorf("%v", o.Scenarios)
			}
		}},
		{name: "unknown scenario", args: []string{"-scenarios", "get,nope"}, wantErr: `-scenarios: unknown scenario "nope"`},
		{name: "fractional duration", args: []string{"-duration", "1500ms"}, wantErr: "-duration: must be a whole number of seconds"},
		{name: "threads over connections", args: []string{"-threads", "4", "-connections", "2"}, wantErr: "-connections: must be >= -threads"},
		{name: "rounds", args: []string{"-rounds", "0"}, wantErr: "-rounds: must be >= 1"},
		{name: "stray argument", args: []string{"x"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseFlags(tt.args, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestAggregateAndRatios(t *testing.T) {
	pw := aggregate(chainPortway, []RunResult{
		{RPS: 100, P50MS: 2, P99MS: 9, Requests: 1000}, {RPS: 300, P50MS: 4, P99MS: 1, Requests: 3000}, {RPS: 200, P50MS: 3, P99MS: 5, Requests: 2000},
	}, 3.0)
	if pw.RPS != 200 || pw.P50MS != 3 || pw.P99MS != 5 || pw.Requests != 6000 || pw.CPUSecPer1k != 0.5 {
		t.Errorf("portway aggregate %+v", pw)
	}
	ng := aggregate(chainNginx, []RunResult{{RPS: 400, P50MS: 1, P99MS: 10, Requests: 4000}, {RPS: 600, P50MS: 2, P99MS: 20, Requests: 6000}}, 1.0)
	if ng.RPS != 500 || ng.P50MS != 1.5 || ng.CPUSecPer1k != 0.1 {
		t.Errorf("nginx aggregate %+v", ng)
	}
	direct := aggregate(chainDirect, nil, 0) // no runs: ratios are 0, not NaN
	rs := ratios([]ChainResult{pw, ng, direct})
	if len(rs) != 2 || rs[0].Versus != chainNginx || rs[0].RPS != 0.4 || rs[0].P99 != 5.0/15 || rs[0].CPU != 5 {
		t.Errorf("ratios %+v", rs)
	}
	if rs[1].RPS != 0 {
		t.Errorf("ratio over an empty chain = %v, want 0", rs[1].RPS)
	}
	rep := Report{Scenarios: []ScenarioResult{{Name: "get", Chains: []ChainResult{pw, ng, direct}, Ratios: rs}},
		Kill: []KillResult{{Chain: "portway", ClientErrorsMS: -1, MarkedDownMS: 12}}}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatalf("the report does not encode: %v", err)
	}
	var table bytes.Buffer
	if err := writeTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"portway/nginx", "0.40×", "portway/direct", "still failing", "marked it down after 12 ms", "; tls: false"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	rep.Settings.TLS = true
	table.Reset()
	if err := writeTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "; tls: true") {
		t.Errorf("table does not say TLS was on:\n%s", table.String())
	}
	data, err := json.Marshal(rep.Settings)
	if err != nil || !strings.Contains(string(data), `"tls":true`) {
		t.Errorf("settings JSON %s (%v) lacks \"tls\":true", data, err)
	}
}
