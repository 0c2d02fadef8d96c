package api

import (
	"net/http"
	"time"

	"github.com/portway/portway/internal/trace"
)

// HopRecorder takes the app's hop of each traced request (trace.Reporter:
// batched to portway, never blocking).
type HopRecorder interface {
	Record(trace.Hop)
}

var _ HopRecorder = (*trace.Reporter)(nil)

// Traced records the app's hop (handler time and status) of every request
// with a valid X-Amzn-Trace-Id in rec; nil rec: next as it is.
func Traced(rec HopRecorder, next http.Handler) http.Handler {
	if rec == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root := trace.RootIn(func(yield func([]byte) bool) {
			for _, v := range r.Header.Values("X-Amzn-Trace-Id") {
				if !yield([]byte(v)) {
					return
				}
			}
		})
		if root == "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if !sw.wrote {
			status = http.StatusOK
		}
		rec.Record(trace.Hop{
			Kind: trace.KindApp, Trace: root, Start: start.UnixMicro(), Duration: time.Since(start).Microseconds(),
			Status: status, Method: r.Method, Path: r.URL.EscapedPath(),
		})
	})
}
