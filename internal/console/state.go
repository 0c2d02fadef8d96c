package console

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/livestats"
	"github.com/portway/portway/internal/nlb"
)

// Bounds of the state document.
const (
	maxEvents = 8  // per service
	maxTasks  = 50 // newest first; the running ones always
)

// State is the document GET /console/api/state answers: what the page
// draws, as of Now.
type State struct {
	Now       int64               `json:"nowUnixMillis"`
	Window    int                 `json:"windowSeconds"`
	Endpoints Endpoints           `json:"endpoints"`
	Routes    []RouteRow          `json:"routes"`
	Clients   []ClientRow         `json:"clients"`
	Listeners []ListenerRow       `json:"listeners"`
	Groups    []GroupRow          `json:"targetGroups"`
	Services  []ecs.ServiceStatus `json:"services"`
	Tasks     []TaskRow           `json:"tasks"`
	Recent    []RecentRow         `json:"recent"`
	Tracing   bool                `json:"tracing"`
	Problems  []string            `json:"problems,omitempty"` // sources that failed to answer
	Totals    totalsOfWindow      `json:"totals"`
}

type totalsOfWindow struct {
	Requests  int     `json:"requests"`
	Rate      float64 `json:"ratePerSec"`
	Errors4xx int     `json:"errors4xx"`
	Errors5xx int     `json:"errors5xx"`
}

// RouteRow is a route and its last minute.
type RouteRow struct {
	Stage       string             `json:"stage"`
	Method      string             `json:"method"`
	Resource    string             `json:"resource"`
	Auth        string             `json:"auth,omitempty"`
	Integration string             `json:"integration,omitempty"`
	Listener    string             `json:"listener,omitempty"` // the load balancer listener the integration reaches
	Stats       *livestats.Summary `json:"stats,omitempty"`
}

// ClientRow is one client's requests with one authorizer result.
type ClientRow struct {
	Client string             `json:"client"` // "" for a token that named none
	Result string             `json:"result"` // allow, missing_token, unauthorized, expired, …
	Reason string             `json:"reason,omitempty"`
	Stats  *livestats.Summary `json:"stats"`
}

// ListenerRow is a load balancer listener.
type ListenerRow struct {
	Address     string `json:"address"`
	Port        int    `json:"port"`
	Protocol    string `json:"protocol"`
	TargetGroup string `json:"targetGroup"`
}

// GroupRow is a target group with its targets.
type GroupRow struct {
	Name    string      `json:"name"`
	Targets []TargetRow `json:"targets"`
	Error   string      `json:"error,omitempty"`
}

// TargetRow is one target: its health as DescribeTargetHealth says it,
// the task behind it and that task's last minute.
type TargetRow struct {
	ID          string                 `json:"id"`
	Port        int                    `json:"port"`
	State       string                 `json:"state"`
	Reason      string                 `json:"reason,omitempty"`
	Description string                 `json:"description,omitempty"`
	LastCheck   *nlb.HealthCheckResult `json:"lastCheck,omitempty"`
	Connections int64                  `json:"connections"`
	Active      int64                  `json:"activeConnections"`
	Task        string                 `json:"task,omitempty"`
	Service     string                 `json:"service,omitempty"`
	Stats       *livestats.Summary     `json:"stats,omitempty"`
}

// TaskRow is a task with its last minute.
type TaskRow struct {
	ecs.TaskStatus
	Stats *livestats.Summary `json:"stats,omitempty"`
}

func (c *Console) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, c.state())
}

func (c *Console) state() State {
	now := c.cfg.Now()
	st := State{Now: now.UnixMilli(), Window: livestats.Window, Endpoints: c.cfg.Endpoints(), Tracing: c.cfg.Traces != nil}
	var liveNow time.Time
	taskStats := map[string]livestats.Summary{}
	if l := c.cfg.Live; l != nil {
		liveNow = l.Now()
		l.Clients.Prune(liveNow)
		for _, row := range l.Tasks.Rows(liveNow) {
			taskStats[row.Key] = row.Summary
		}
	}

	// Listeners, and which listener each integration reaches.
	byAddr := map[string]bool{}
	if ls, err := c.cfg.LB.DescribeListeners("", nil); err != nil {
		st.Problems = append(st.Problems, "listeners: "+err.Error())
	} else {
		for _, l := range ls {
			row := ListenerRow{Address: l.Address, Port: l.Port, Protocol: l.Protocol}
			if len(l.DefaultActions) > 0 {
				row.TargetGroup, _ = c.cfg.LB.TargetGroupName(l.DefaultActions[0].TargetGroupArn)
			}
			st.Listeners = append(st.Listeners, row)
			if l.Address != "" {
				byAddr[l.Address] = true
			}
		}
	}
	st.Routes = c.routes(liveNow, byAddr, &st.Totals)
	st.Clients = c.clients(liveNow)

	tasks := c.cfg.Services.Tasks()
	st.Tasks = taskRows(tasks, taskStats)
	byIP := map[string]ecs.TaskStatus{}
	for _, t := range tasks { // a task not stopped wins over a stopped one with the same address, then the newer
		old, ok := byIP[t.IP]
		if !ok || stoppedRank(t) < stoppedRank(old) || stoppedRank(t) == stoppedRank(old) && t.CreatedAt.After(old.CreatedAt) {
			byIP[t.IP] = t
		}
	}
	for _, name := range c.cfg.LB.TargetGroupNames() {
		g := GroupRow{Name: name, Targets: []TargetRow{}}
		ths, err := c.cfg.LB.DescribeTargetHealth(name)
		if err != nil {
			g.Error = err.Error()
		}
		for _, th := range ths {
			tr := TargetRow{
				ID: th.Target.ID, Port: th.Target.Port, State: th.TargetHealth.State,
				Reason: th.TargetHealth.Reason, Description: th.TargetHealth.Description,
				LastCheck: th.LastHealthCheck, Connections: th.Connections, Active: th.ActiveConnections,
			}
			if t, ok := byIP[th.Target.ID]; ok {
				tr.Task, tr.Service = t.TaskID, t.Service
				if s, ok := taskStats[t.TaskID]; ok {
					tr.Stats = &s
				}
			}
			g.Targets = append(g.Targets, tr)
		}
		st.Groups = append(st.Groups, g)
	}
	for _, s := range c.cfg.Services.Services() {
		if len(s.Events) > maxEvents {
			s.Events = s.Events[:maxEvents]
		}
		st.Services = append(st.Services, s)
	}
	st.Recent = c.recent()
	return st
}

// routes are the configured routes and those that took requests (an ANY
// method's requests are counted by their method), busiest first.
func (c *Console) routes(now time.Time, listeners map[string]bool, tot *totalsOfWindow) []RouteRow {
	type key struct{ stage, resource string }
	conf := map[key][]Route{}
	for _, r := range c.cfg.Routes {
		k := key{r.Stage, r.Resource}
		conf[k] = append(conf[k], r)
	}
	find := func(stage, resource, method string) (Route, bool) {
		var anyRoute *Route
		for i, r := range conf[key{stage, resource}] {
			if r.Method == method {
				return r, true
			}
			if r.Method == "ANY" {
				anyRoute = &conf[key{stage, resource}][i]
			}
		}
		if anyRoute != nil {
			return *anyRoute, true
		}
		return Route{}, false
	}
	rows := []RouteRow{}
	seen := map[key]bool{}
	if l := c.cfg.Live; l != nil {
		for _, lr := range l.Routes.Rows(now) {
			s := lr.Summary
			if s.Requests == 0 {
				continue
			}
			tot.Requests += s.Requests
			tot.Errors4xx += s.Errors4xx
			tot.Errors5xx += s.Errors5xx
			row := RouteRow{Stage: lr.Key.Stage, Method: lr.Key.Method, Resource: lr.Key.Resource, Stats: &s}
			if r, ok := find(row.Stage, row.Resource, row.Method); ok {
				row.Auth, row.Integration = r.Auth, r.Integration
				seen[key{r.Stage, r.Resource}] = true
			}
			rows = append(rows, row)
		}
		tot.Rate = float64(tot.Requests) / livestats.Window
	}
	for _, r := range c.cfg.Routes {
		if !seen[key{r.Stage, r.Resource}] {
			rows = append(rows, RouteRow{Stage: r.Stage, Method: r.Method, Resource: r.Resource, Auth: r.Auth, Integration: r.Integration})
		}
	}
	for i := range rows {
		rows[i].Listener = listenerOf(rows[i].Integration, listeners)
	}
	slices.SortStableFunc(rows, func(a, b RouteRow) int {
		return cmp.Or(-cmp.Compare(requests(a.Stats), requests(b.Stats)),
			cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Method, b.Method))
	})
	return rows
}

func requests(s *livestats.Summary) int {
	if s == nil {
		return 0
	}
	return s.Requests
}

// clients are the clients of the last minute, the most refused first.
func (c *Console) clients(now time.Time) []ClientRow {
	rows := []ClientRow{}
	if c.cfg.Live == nil {
		return rows
	}
	for _, r := range c.cfg.Live.Clients.Rows(now) {
		if r.Summary.Requests == 0 {
			continue
		}
		s := r.Summary
		rows = append(rows, ClientRow{Client: r.Key.Client, Result: r.Key.Result, Reason: r.Note, Stats: &s})
	}
	slices.SortFunc(rows, func(a, b ClientRow) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Result, b.Result))
	})
	return rows
}

// taskRows are the tasks not stopped, then the newest stopped ones, at
// most maxTasks.
func taskRows(tasks []ecs.TaskStatus, stats map[string]livestats.Summary) []TaskRow {
	slices.SortStableFunc(tasks, func(a, b ecs.TaskStatus) int {
		return cmp.Or(cmp.Compare(stoppedRank(a), stoppedRank(b)), b.CreatedAt.Compare(a.CreatedAt))
	})
	rows := []TaskRow{}
	for i, t := range tasks {
		if i >= maxTasks && t.LastStatus == "STOPPED" {
			break
		}
		row := TaskRow{TaskStatus: t}
		if s, ok := stats[t.TaskID]; ok {
			row.Stats = &s
		}
		rows = append(rows, row)
	}
	return rows
}

func stoppedRank(t ecs.TaskStatus) int {
	if t.LastStatus == "STOPPED" {
		return 1
	}
	return 0
}

// listenerOf is the listener address an integration URI's authority names
// ("" when none does).
func listenerOf(uri string, listeners map[string]bool) string {
	rest, ok := cutScheme(uri)
	if !ok {
		return ""
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' || rest[i] == '?' {
			rest = rest[:i]
			break
		}
	}
	if listeners[rest] {
		return rest
	}
	return ""
}

func cutScheme(uri string) (string, bool) {
	for _, p := range []string{"http://", "https://"} {
		if len(uri) > len(p) && uri[:len(p)] == p {
			return uri[len(p):], true
		}
	}
	return "", false
}
