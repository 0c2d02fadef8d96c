package gateway

import (
	"time"

	"github.com/portway/portway/internal/livestats"
)

// LiveRecorder takes every request's outcome for the console's
// last-minute statistics (livestats.Live).
type LiveRecorder interface {
	Request(livestats.Request)
}

var _ LiveRecorder = (*livestats.Live)(nil)

// observeLive hands the request to Config.Live: its route (stage, method,
// resource template), status and duration, and for a method with an
// authorizer, the client and the decision with its reason.
func (g *Gateway) observeLive(r *request, st *reqState, end time.Time) {
	status := st.code
	if st.status != 0 {
		status = st.status
	}
	if status == 0 {
		status = 200
	}
	stage := st.stage
	if stage == "" {
		stage = unmatchedStage
	}
	res := st.resourcePath
	if res == "" || res == "-" {
		res = unmatchedResource
	}
	lr := livestats.Request{
		Stage: stage, Method: methodLabels[methodIndex(r.method)], Resource: res,
		Status: status, Duration: end.Sub(st.start), End: end,
		AuthResult: st.authResult,
	}
	if st.authResult != "" {
		lr.Client = liveClientID(st)
		if st.authResult != authzAllow {
			lr.Reason = st.reason
		}
	}
	g.cfg.Live.Request(lr)
}

// liveClientID is the verified client id, or for a refused token the one
// it claims (logClientID: unverified, shown only), "" when unreadable.
func liveClientID(st *reqState) string {
	if id := st.logClientID(); id != "-" {
		return id
	}
	return ""
}
