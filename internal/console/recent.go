package console

// Traces is the source of recent requests and their traces.
type Traces interface {
	RecentRequests(n int) []RecentRow
}

// RecentRow is one recent request, as the gateway's hop of its trace
// records it.
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
}

const maxRecent = 50

func (c *Console) recent() []RecentRow {
	if c.cfg.Traces == nil {
		return []RecentRow{}
	}
	return c.cfg.Traces.RecentRequests(maxRecent)
}
