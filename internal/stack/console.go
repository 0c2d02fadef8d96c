package stack

import (
	"log/slog"
	"strings"

	"github.com/portway/portway/internal/console"
	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/livestats"
)

// newConsole builds the console (package console) over the stack's load
// balancer, services, live statistics and gateway routes.
func (s *Stack) newConsole(sup *ecs.Supervisor, gcfg gateway.Config, live *livestats.Live, log *slog.Logger) (*console.Console, error) {
	return console.New(console.Config{
		LB:       s.lb,
		Services: sup,
		Live:     live,
		Traces:   s.traces,
		Routes:   consoleRoutes(gcfg),
		Endpoints: func() console.Endpoints {
			if e := s.published.Load(); e != nil {
				return console.Endpoints{APIURL: e.APIURL, TokenURL: e.TokenURL, JWKSURL: e.JWKSURL}
			}
			return console.Endpoints{}
		},
		StateDir: s.opts.StateDir,
		Logger:   log,
	})
}

// consoleRoutes lists the gateway's methods per stage, with each
// integration URI's stage variables filled in.
func consoleRoutes(gc gateway.Config) []console.Route {
	var out []console.Route
	for _, st := range gc.AllStages() {
		for _, r := range gc.Resources {
			for _, m := range r.Methods {
				integ := m.Integration.URI
				if m.Integration.Type == "MOCK" {
					integ = "MOCK"
				}
				for k, v := range st.Variables {
					integ = strings.ReplaceAll(integ, "${stageVariables."+k+"}", v)
				}
				auth := m.Authorization
				if auth == "" {
					auth = "NONE"
				}
				out = append(out, console.Route{Stage: st.Name, Method: m.HTTPMethod, Resource: r.Path, Auth: auth, Integration: integ})
			}
		}
	}
	return out
}
