package sidecar

import (
	"time"

	"github.com/portway/portway/internal/h1"
	"github.com/portway/portway/internal/trace"
)

// HopRecorder takes the sidecar's hop of each traced request
// (trace.Reporter: batched to portway, never blocking).
type HopRecorder interface {
	Record(trace.Hop)
}

var _ HopRecorder = (*trace.Reporter)(nil)

// recordHop records the exchange's hop when tracing is on and the request
// carries a valid X-Amzn-Trace-Id (the gateway's); health checks and other
// untraced requests are not recorded.
func (s *Sidecar) recordHop(cc *h1.ServerConn, ex *exchangeLog, start, end time.Time) {
	if s.cfg.Traces == nil {
		return
	}
	root := trace.RootIn(func(yield func([]byte) bool) {
		for _, f := range cc.Req.Fields {
			if len(f.Name) == len("x-amzn-trace-id") && h1.Fold(f.Name, "x-amzn-trace-id") && !yield(f.Value) {
				return
			}
		}
	})
	if root == "" {
		return
	}
	s.cfg.Traces.Record(trace.Hop{
		Kind: trace.KindSidecar, Trace: root, Start: start.UnixMicro(), Duration: end.Sub(start).Microseconds(),
		Status: ex.status, UpstreamStatus: ex.upstreamStatus, UpstreamTime: ex.upstreamTime.Microseconds(),
		Method: string(cc.Req.Method), Error: ex.note,
	})
}
