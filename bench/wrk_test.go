package main

import (
	"strings"
	"testing"
	"time"
)

const sampleWrk = `Running 10s test @ http://127.0.0.1:8080/v1/ingests/x
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.90ms    2.43ms  23.46ms   89.45%
    Req/Sec    22.75k     6.49k   28.46k    80.00%
  227770 requests in 10.00s, 76.90MB read
Requests/sec:  22777.00
Transfer/sec:      7.69MB
BENCHJSON {"requests":227770,"duration_us":10000000,"bytes":80635494,"errors":{"connect":0,"read":1,"write":0,"status":3,"timeout":2},"latency_us":{"mean":1900.5,"p50":1200,"p90":3000,"p99":12000,"max":23460}}
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		wantErr string
		check   func(t *testing.T, r wrkResult)
	}{
		{
			name: "hook line and summary",
			out:  sampleWrk,
			check: func(t *testing.T, r wrkResult) {
				if r.Requests != 227770 || r.DurationUS != 10_000_000 || r.Bytes != 80635494 {
					t.Errorf("counts: %+v", r)
				}
				if got := r.RPS(); got != 22777 {
					t.Errorf("RPS = %v, want 22777", got)
				}
				if r.LatencyUS.P50 != 1200 || r.LatencyUS.P99 != 12000 || r.LatencyUS.Max != 23460 || r.LatencyUS.Mean != 1900.5 {
					t.Errorf("latency: %+v", r.LatencyUS)
				}
				if got := r.ErrorCount(); got != 6 {
					t.Errorf("ErrorCount = %d, want 6", got)
				}
			},
		},
		{
			name: "hook line only",
			out:  `BENCHJSON {"requests":10,"duration_us":1000000,"bytes":1,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latency_us":{"mean":1,"p50":1,"p90":1,"p99":1,"max":1}}`,
			check: func(t *testing.T, r wrkResult) {
				if r.RPS() != 10 || r.ErrorCount() != 0 {
					t.Errorf("%+v", r)
				}
			},
		},
		{name: "no hook line", out: "Running 1s test @ x\nRequests/sec: 5.00\n", wantErr: "no \"BENCHJSON\" line"},
		{name: "bad json", out: "BENCHJSON {\"requests\":\n", wantErr: "done hook output"},
		{name: "zero duration", out: `BENCHJSON {"requests":1,"duration_us":0}`, wantErr: "duration of 0"},
		{
			name:    "disagrees with wrk's own figure",
			out:     strings.Replace(sampleWrk, "Requests/sec:  22777.00", "Requests/sec:  1000.00", 1),
			wantErr: "disagrees",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseWrk(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestWrkArgs(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "10s"},
		{time.Second, "1s"},
		{300 * time.Millisecond, "1s"}, // wrk counts whole seconds; never "0s"
	}
	for _, tt := range tests {
		args := wrkRun{URL: "http://x/", Threads: 1, Connections: 32, Duration: tt.d}.args("/tmp/s.lua")
		got := strings.Join(args, " ")
		want := "-t 1 -c 32 -d " + tt.want + " --timeout 10s -s /tmp/s.lua http://x/"
		if got != want {
			t.Errorf("%v: args = %q, want %q", tt.d, got, want)
		}
	}
}

func TestLuaString(t *testing.T) {
	tests := map[string]string{
		"GET":              `"GET"`,
		`a"b\c`:            `"a\"b\\c"`,
		"line\nnext\r\x00": `"line\010next\013\000"`,
		"]]":               `"]]"`,
		"é":                `"\195\169"`,
	}
	for in, want := range tests {
		if got := luaString(in); got != want {
			t.Errorf("luaString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestWrkRequestLua(t *testing.T) {
	lua := wrkRequest{
		Method:     "POST",
		Headers:    [][2]string{{"Authorization", "Bearer t"}, {"Connection", "close"}},
		BodyPrefix: `{"a": "`, BodyPad: 5, BodySuffix: `"}`,
	}.Lua()
	for _, want := range []string{
		`wrk.method = "POST"`,
		`wrk.headers["Authorization"] = "Bearer t"`,
		`wrk.headers["Connection"] = "close"`,
		`wrk.body = "{\"a\": \"" .. string.rep("x", 5) .. "\"}"`,
		"done = function(summary, latency, requests)",
		`io.write(string.format(`,
		`'BENCHJSON {"requests":%d`,
		"latency:percentile(99)",
	} {
		if !strings.Contains(lua, want) {
			t.Errorf("script lacks %q:\n%s", want, lua)
		}
	}
	if strings.Contains(wrkRequest{Method: "GET"}.Lua(), "wrk.body") {
		t.Error("a GET script sets a body")
	}
}
