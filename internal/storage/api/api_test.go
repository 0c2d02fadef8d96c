package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func decodeError(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHandleTurnsErrorsIntoResponses(t *testing.T) {
	secret := errors.New("disk on fire at /secret/path")
	tests := []struct {
		name     string
		h        HandlerFunc
		status   int
		label    string
		desc     string // "" = no description field
		allow    string
		logged   bool
		noFields bool
	}{
		{"bad request", func(http.ResponseWriter, *http.Request) error { return BadRequest("nope") },
			400, "Bad Request", "nope", "", false, false},
		{"not found", func(http.ResponseWriter, *http.Request) error { return ResourceNotFound() },
			404, "Not Found", "The requested resource could not be found.", "", false, false},
		{"405", func(http.ResponseWriter, *http.Request) error { return MethodNotAllowed("POST", "GET") },
			405, "Method Not Allowed", "HTTP method not allowed, supported methods: POST, GET", "POST, GET", false, false},
		{"wrapped api error", func(http.ResponseWriter, *http.Request) error {
			return errors.Join(Errorf(415, "type %s", "x"))
		}, 415, "Unsupported Media Type", "type x", "", false, false},
		{"plain error", func(http.ResponseWriter, *http.Request) error { return secret },
			500, "Internal Server Error", "", "", true, false},
		{"api 500 with cause", func(http.ResponseWriter, *http.Request) error {
			return &Error{Status: 503, Description: "internal detail", Cause: secret}
		}, 503, "Service Unavailable", "", "", true, false},
		{"panic", func(http.ResponseWriter, *http.Request) error { panic("kaboom /secret/path") },
			500, "Internal Server Error", "", "", true, false},
		{"too large", func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4))
			return err
		}, 413, "Payload Too Large", "The request content was too large: the limit is 4 bytes.", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := Handle(slog.New(slog.NewTextHandler(&logs, nil)), tt.h)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/x", strings.NewReader("0123456789")))
			res := rec.Result()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			m := decodeError(t, res)
			want := map[string]any{"httpStatus": float64(tt.status), "label": tt.label, "type": "Error"}
			if tt.desc != "" {
				want["description"] = tt.desc
			}
			if !jsonEqual(m, want) {
				t.Errorf("body %v, want %v", m, want)
			}
			if tt.logged != (logs.Len() > 0) {
				t.Errorf("logged = %q, want logged=%v", logs.String(), tt.logged)
			}
			if tt.status >= 500 {
				raw, _ := json.Marshal(m)
				if strings.Contains(string(raw), "secret") {
					t.Errorf("500 leaks internals: %s", raw)
				}
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestErrorAfterWriteIsOnlyLogged(t *testing.T) {
	var logs bytes.Buffer
	h := Handle(slog.New(slog.NewTextHandler(&logs, nil)), func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(202)
		return errors.New("late")
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 202 || rec.Body.Len() != 0 || !strings.Contains(logs.String(), "late") {
		t.Fatalf("code %d body %q logs %q", rec.Code, rec.Body, logs.String())
	}
}

func TestPublicBaseURL(t *testing.T) {
	tests := []struct {
		name                string
		proto, host, prefix string
		want                string
	}{
		{"fallback", "", "", "", "http://app.internal:9001"},
		{"all forwarded", "http", "127.0.0.1:8080", "/v1", "http://127.0.0.1:8080/v1"},
		{"https custom domain no base path", "https", "api.example.org", "", "https://api.example.org"},
		{"base path with trailing slash", "https", "api.example.org", "/storage/v1/", "https://api.example.org/storage/v1"},
		{"root prefix", "http", "h:1", "/", "http://h:1"},
		{"lists take the first", "https, http", "a.example, b.example", "/v1,/v2", "https://a.example/v1"},
		{"proto case", "HTTPS", "h", "", "https://h"},
		{"bad proto", "gopher", "h", "", "http://h"},
		{"bad host", "", "evil.example/path", "", "http://app.internal:9001"},
		{"host with userinfo", "", "user@evil.example", "", "http://app.internal:9001"},
		{"relative prefix", "", "", "v1", "http://app.internal:9001"},
		{"protocol-relative prefix", "", "", "//evil.example", "http://app.internal:9001"},
		{"prefix with query", "", "", "/v1?x", "http://app.internal:9001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/ingests", nil)
			r.Host = "app.internal:9001"
			for k, v := range map[string]string{"X-Forwarded-Proto": tt.proto, "X-Forwarded-Host": tt.host, "X-Forwarded-Prefix": tt.prefix} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			if got := PublicBaseURL(r); got != tt.want {
				t.Errorf("PublicBaseURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	h := Handle(nil, Healthcheck)
	for _, tt := range []struct {
		method string
		status int
		body   string
	}{{"GET", 200, "ok"}, {"HEAD", 200, ""}, {"POST", 405, ""}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, HealthcheckPath, nil))
		if rec.Code != tt.status {
			t.Errorf("%s: status %d", tt.method, rec.Code)
		}
		if tt.status == 200 {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("%s: Content-Type %q", tt.method, ct)
			}
			if tt.method == "GET" && rec.Body.String() != tt.body {
				t.Errorf("body %q", rec.Body)
			}
		} else if rec.Header().Get("Allow") != "GET" {
			t.Errorf("Allow %q", rec.Header().Get("Allow"))
		}
	}
}

func TestAccessLogNeverLogsHeaders(t *testing.T) {
	var logs bytes.Buffer
	h := AccessLog(slog.New(slog.NewTextHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
	}))
	r := httptest.NewRequest("POST", "/ingests", nil)
	r.Header.Set("Authorization", "Bearer sekrit-token")
	r.Header.Set("X-Amzn-Trace-Id", "Root=1-abc")
	h.ServeHTTP(httptest.NewRecorder(), r)
	out := logs.String()
	if strings.Contains(out, "sekrit") || !strings.Contains(out, "status=201") || !strings.Contains(out, "Root=1-abc") {
		t.Fatalf("access log: %s", out)
	}
}

func TestAccessLogLine(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		name, path, trace string
		level             slog.Level
		want              []string // in order; nil: no line
	}{
		{"get", "/ingests/x%2Fy", "", slog.LevelInfo,
			[]string{"level=INFO", "msg=request", "method=GET", "path=/ingests/x%2Fy", "status=200", "duration="}},
		{"trace id", "/bags/a/b", "Root=1-abc", slog.LevelInfo,
			[]string{"method=GET", "path=/bags/a/b", "status=200", "duration=", `trace_id="Root=1-abc"`}},
		{"oversized trace id", "/bags/a/b", strings.Repeat("x", 257), slog.LevelInfo,
			[]string{"status=200", "duration="}},
		{"health check at info", HealthcheckPath, "", slog.LevelInfo, nil},
		{"health check at debug", HealthcheckPath, "", slog.LevelDebug,
			[]string{"level=DEBUG", "path=" + HealthcheckPath, "status=200"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := AccessLog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tc.level})), ok)
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.trace != "" {
				r.Header.Set("X-Amzn-Trace-Id", tc.trace)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			out := logs.String()
			if tc.want == nil {
				if out != "" {
					t.Fatalf("logged %q", out)
				}
				return
			}
			if strings.Count(out, "\n") != 1 {
				t.Fatalf("want one line, got %q", out)
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%q missing or out of order in %q", w, out)
				}
				rest = rest[i+len(w):]
			}
			if tc.trace == "" || len(tc.trace) > 256 {
				if strings.Contains(out, "trace_id") {
					t.Fatalf("trace_id logged: %q", out)
				}
			}
		})
	}
}

func BenchmarkAccessLog(b *testing.B) {
	h := AccessLog(slog.New(slog.NewTextHandler(io.Discard, nil)),
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	req := httptest.NewRequest("GET", "/ingests/4a7f2a2e-6b4c-4d1e-9a64-1c2f3b4d5e6f", nil)
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
