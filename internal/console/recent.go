package console

import "github.com/portway/portway/internal/trace"

// Traces is the source of recent requests (trace.Store); the page reads a
// trace itself at the control API's GET /traces/ID.
type Traces interface {
	Recent(n int, f trace.Filter) []trace.Trace
}

var _ Traces = (*trace.Store)(nil)

// RecentRow is one recent request, as its trace's gateway and load
// balancer hops record it.
type RecentRow struct {
	RequestID string `json:"requestId"`
	TraceID   string `json:"traceId"`
	Start     int64  `json:"startUnixMicros"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Stage     string `json:"stage,omitempty"`
	Route     string `json:"route,omitempty"`
	Status    int    `json:"status"`
	Duration  int64  `json:"durationMicros"`
	Client    string `json:"client,omitempty"`
	Authz     string `json:"authorizer,omitempty"`
	Target    string `json:"target,omitempty"`
	Hops      int    `json:"hops"`
}

// maxRecent bounds the recent requests in the state document.
const maxRecent = 50

func (c *Console) recent() []RecentRow {
	rows := []RecentRow{}
	if c.cfg.Traces == nil {
		return rows
	}
	for _, t := range c.cfg.Traces.Recent(maxRecent, trace.Filter{}) {
		row := RecentRow{RequestID: t.RequestID, TraceID: t.TraceID, Start: t.Start, Status: t.Status, Hops: len(t.Hops)}
		for _, h := range t.Hops {
			switch h.Kind {
			case trace.KindGateway:
				if row.Method == "" {
					row.Method, row.Path, row.Stage, row.Route = h.Method, h.Path, h.Stage, h.Route
					row.Duration, row.Client, row.Authz, row.Start = h.Duration, h.ClientID, h.Authorizer, h.Start
				}
			case trace.KindNLB:
				if row.Target == "" {
					row.Target = h.Target
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}
