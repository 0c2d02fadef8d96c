package livestats

import "time"

// Bounds of a Live's boards. Routes are bounded by the configuration and
// tasks by the services' sizes; client ids of refused tokens are claims
// anyone can make up, hence the overflow key and Prune.
const (
	MaxRoutes  = 1024
	MaxTasks   = 1024
	MaxClients = 256
)

// Overflow keys: where requests go when a board is full.
var (
	OverflowRoute  = RouteKey{Stage: "(other)", Method: "*", Resource: "(other)"}
	OverflowClient = ClientKey{Client: "(other)", Result: "*"}
)

// OverflowTask is the tasks board's overflow key.
const OverflowTask = "(other)"

// RouteKey is one stage's method on one resource template.
type RouteKey struct {
	Stage, Method, Resource string
}

// ClientKey is one client id (the verified one; for a refused token the
// one it claims, "" when unreadable) and the authorizer's result:
// "allow", or why the token was refused (unauthorized, expired, …).
type ClientKey struct {
	Client, Result string
}

// Live is the console's last-minute statistics: the gateway's requests
// per route and per client, and the tasks' requests (as each task's
// sidecar saw them). Safe for concurrent use.
type Live struct {
	now     func() time.Time
	Routes  *Board[RouteKey]
	Clients *Board[ClientKey]
	Tasks   *Board[string]
}

// New makes an empty Live reading the clock now (nil: time.Now).
func New(now func() time.Time) *Live {
	if now == nil {
		now = time.Now
	}
	return &Live{
		now:     now,
		Routes:  NewBoard(MaxRoutes, OverflowRoute),
		Clients: NewBoard(MaxClients, OverflowClient),
		Tasks:   NewBoard(MaxTasks, OverflowTask),
	}
}

// Now is the clock the statistics are kept by.
func (l *Live) Now() time.Time { return l.now() }

// Request is one request the gateway answered.
type Request struct {
	Stage, Method, Resource string
	Status                  int
	Duration                time.Duration
	// Client and AuthResult are set when the method has an authorizer:
	// the client id and "allow" or the refusal's result; Reason is the
	// refusal's wording.
	Client, AuthResult, Reason string
	// End is when the request ended (zero: now, by the Live's clock).
	End time.Time
}

// Request records r (the gateway's one call per request).
func (l *Live) Request(r Request) {
	now := r.End
	if now.IsZero() {
		now = l.now()
	}
	l.Routes.Record(RouteKey{r.Stage, r.Method, r.Resource}, now, r.Duration, r.Status, "")
	if r.AuthResult != "" {
		l.Clients.Record(ClientKey{r.Client, r.AuthResult}, now, r.Duration, r.Status, r.Reason)
	}
}

// TaskRequest records a request a task's sidecar answered with status
// after d.
func (l *Live) TaskRequest(task string, d time.Duration, status int) {
	if task == "" {
		return
	}
	l.Tasks.Record(task, l.now(), d, status, "")
}
