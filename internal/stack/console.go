package stack

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/nlb"
)

// consoleSource is what the console shows: the load balancer's target
// groups and the supervisor's services and tasks.
type consoleSource interface {
	TargetGroupNames() []string
	DescribeTargetHealth(group string) ([]nlb.TargetHealthDescription, error)
}

type serviceSource interface {
	Services() []ecs.ServiceStatus
	Tasks() []ecs.TaskStatus
}

type consoleGroup struct {
	Name    string
	Targets []nlb.TargetHealthDescription
}

type consoleData struct {
	Endpoints Endpoints
	Now       time.Time
	Groups    []consoleGroup
	Services  []ecs.ServiceStatus
	Tasks     []ecs.TaskStatus
}

// consoleHandler serves a read-only page of the stack's live state that
// refreshes itself: the same facts as `portway targets`, `services` and
// `tasks`, for people who would rather keep a browser tab open.
func consoleHandler(lb consoleSource, sup serviceSource, endpoints func() Endpoints, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		d := consoleData{Endpoints: endpoints(), Now: time.Now().UTC(), Services: sup.Services(), Tasks: sup.Tasks()}
		for _, name := range lb.TargetGroupNames() {
			ths, err := lb.DescribeTargetHealth(name)
			if err != nil {
				continue
			}
			d.Groups = append(d.Groups, consoleGroup{Name: name, Targets: ths})
		}
		var buf bytes.Buffer
		if err := consolePage().Execute(&buf, d); err != nil {
			log.Error("console page", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}

// consolePage is parsed on first use, not at init: every portway process
// (sidecars and apps too) links this package.
var consolePage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("console").Funcs(template.FuncMap{"hasPrefix": strings.HasPrefix}).Parse(consoleHTML))
})

const consoleHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>portway</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f4f4f4} code{font-size:13px}
.healthy,.RUNNING,.COMPLETED{color:#17752b}.unhealthy,.STOPPED,.FAILED{color:#b3261e}
.initial,.draining,.ACTIVATING,.DEACTIVATING,.PENDING,.PROVISIONING,.STOPPING{color:#8a5a00}
</style></head><body>
<h1>portway</h1>
<p>API <code>{{.Endpoints.APIURL}}</code> · token <code>{{.Endpoints.TokenURL}}</code> · JWKS <code>{{.Endpoints.JWKSURL}}</code> · as of {{.Now.Format "15:04:05"}} UTC</p>
<h2>Target groups</h2>
{{range .Groups}}<h3>{{.Name}}</h3>
<table><tr><th>target</th><th>state</th><th>reason</th><th>last check</th><th>connections</th><th>active</th></tr>
{{range .Targets}}<tr><td>{{.Target.ID}}:{{.Target.Port}}</td><td class="{{.TargetHealth.State}}">{{.TargetHealth.State}}</td><td>{{.TargetHealth.Reason}} {{.TargetHealth.Description}}</td><td>{{with .LastHealthCheck}}{{.Summary}} at {{.Time.Format "15:04:05.000"}}{{else}}-{{end}}</td><td>{{.Connections}}</td><td>{{.ActiveConnections}}</td></tr>
{{else}}<tr><td colspan="6">no targets</td></tr>{{end}}</table>
{{end}}
<h2>Services</h2>
<table><tr><th>service</th><th>desired</th><th>running</th><th>pending</th><th>deployments</th><th>last failure</th><th>latest events</th></tr>
{{range .Services}}<tr><td>{{.Name}}</td><td>{{.DesiredCount}}</td><td>{{.RunningCount}}</td><td>{{.PendingCount}}</td><td>{{range .Deployments}}{{.Status}} {{.ID}} ({{.RunningCount}}/{{.DesiredCount}}) <span class="{{.RolloutState}}">{{.RolloutState}}</span>{{if .FailedTasks}}, {{.FailedTasks}} failed tasks{{end}}{{if hasPrefix .RolloutStateReason "ECS deployment circuit breaker"}}: {{.RolloutStateReason}}{{end}}<br>{{end}}</td><td>{{.LastFailure}}</td><td>{{range $i, $e := .Events}}{{if lt $i 3}}{{$e.Message}}<br>{{end}}{{end}}</td></tr>
{{end}}</table>
<h2>Tasks</h2>
<table><tr><th>task</th><th>service</th><th>status</th><th>address</th><th>containers</th><th>stopped reason</th></tr>
{{range .Tasks}}<tr><td><code>{{.TaskID}}</code></td><td>{{.Service}}</td><td class="{{.LastStatus}}">{{.LastStatus}}</td><td>{{.IP}}</td><td>{{range .Containers}}{{.Name}} (pid {{.PID}}, {{.LastStatus}}){{if .ExitCode}} exit {{.ExitCode}}{{end}}<br>{{end}}</td><td>{{if .StopCode}}<code>{{.StopCode}}</code> {{end}}{{.StoppedReason}}</td></tr>
{{end}}</table>
</body></html>
`
