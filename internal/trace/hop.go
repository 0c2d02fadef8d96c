package trace

import "net/netip"

// Hop kinds, in the order a request passes them.
const (
	KindGateway = "gateway"
	KindNLB     = "nlb"
	KindSidecar = "sidecar"
	KindApp     = "app"
)

// Hop is what one hop records of one request, with its own clock readings
// in microseconds. Fields a hop does not know stay empty.
type Hop struct {
	Kind  string `json:"kind"`
	Trace string `json:"trace"` // the trace id: 1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx
	// Start is when the hop began with the request (Unix microseconds),
	// Duration how long it took until its last byte (microseconds).
	Start    int64 `json:"startUnixMicros"`
	Duration int64 `json:"durationMicros"`
	Status   int   `json:"status,omitempty"` // the status the hop answered with

	// The gateway's.
	RequestID   string `json:"requestId,omitempty"`
	Method      string `json:"method,omitempty"`
	Path        string `json:"path,omitempty"`
	Stage       string `json:"stage,omitempty"`
	Route       string `json:"route,omitempty"` // the resource path template
	ClientID    string `json:"clientId,omitempty"`
	Authorizer  string `json:"authorizer,omitempty"` // "allow", "none", or why the token was refused
	Error       string `json:"error,omitempty"`      // the gateway response type, when the gateway answered
	Integration int64  `json:"integrationMicros,omitempty"`
	// Upstream is the gateway's integration connection as the gateway sees
	// it (local address, remote address): the load balancer's flow with
	// the same addresses carried the request. Not shown; used to join.
	UpstreamLocal  netip.AddrPort `json:"-"`
	UpstreamRemote netip.AddrPort `json:"-"`
	UpstreamStart  int64          `json:"-"` // when the request went on it, Unix µs
	UpstreamReused bool           `json:"-"` // the connection had carried earlier requests

	// The load balancer's (joined at query time from its flow log).
	Listener    string `json:"listener,omitempty"`
	TargetGroup string `json:"targetGroup,omitempty"`
	Target      string `json:"target,omitempty"` // ip:port chosen
	FlowID      uint64 `json:"flowId,omitempty"`
	Connect     int64  `json:"connectMicros,omitempty"`
	Reused      bool   `json:"reusedFlow,omitempty"` // the flow was opened for an earlier request
	FlowAge     int64  `json:"flowAgeMicros,omitempty"`
	FlowBytes   int64  `json:"flowBytes,omitempty"`          // both directions, when known (the flow has closed)
	FlowLife    int64  `json:"flowDurationMicros,omitempty"` // the flow's whole life, once it has closed
	InProcess   bool   `json:"inProcess,omitempty"`          // the gateway's in-process link, not a listener

	// The sidecar's.
	UpstreamStatus int   `json:"upstreamStatus,omitempty"`
	UpstreamTime   int64 `json:"upstreamMicros,omitempty"`

	// The sidecar's and the app's: which task, where.
	Task string `json:"task,omitempty"`
	Addr string `json:"addr,omitempty"`
}
