package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portway/portway/internal/trace"
)

type hopList []trace.Hop

func (l *hopList) Record(h trace.Hop) { *l = append(*l, h) }

func TestTracedRecordsTheAppHop(t *testing.T) {
	var hops hopList
	h := Traced(&hops, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/created" {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = w.Write([]byte("x"))
	}))
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	for _, tc := range []struct{ path, header string }{
		{"/created", "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"},
		{"/ok", "Root=" + root},
		{"/untraced", ""},
		{"/bad", "Root=1-NOPE"},
	} {
		req := httptest.NewRequest(http.MethodPost, tc.path, nil)
		if tc.header != "" {
			req.Header.Set("X-Amzn-Trace-Id", tc.header)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	if len(hops) != 2 {
		t.Fatalf("%d hops: %+v", len(hops), hops)
	}
	if h := hops[0]; h.Kind != trace.KindApp || h.Trace != root || h.Status != 201 || h.Path != "/created" || h.Method != "POST" || h.Start == 0 || h.Duration < 0 {
		t.Errorf("hop %+v", h)
	}
	if hops[1].Status != 200 {
		t.Errorf("implicit 200: %+v", hops[1])
	}
	mux := http.NewServeMux()
	if Traced(nil, mux) != http.Handler(mux) {
		t.Error("nil recorder should leave the handler as it is")
	}
}
