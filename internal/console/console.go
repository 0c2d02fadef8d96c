package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/livestats"
	"github.com/portway/portway/internal/nlb"
)

//go:embed ui
var uiFiles embed.FS

// Paths the console serves.
const (
	StatePath = "/console/api/state"
	LogsPath  = "/console/api/logs"
	assetPath = "/console/"
)

// CSP is the console's Content-Security-Policy: its own files only, no
// inline scripts or styles, no frames, no forms.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// LoadBalancer is what the console reads of the load balancer.
type LoadBalancer interface {
	TargetGroupNames() []string
	DescribeTargetHealth(group string) ([]nlb.TargetHealthDescription, error)
	DescribeListeners(loadBalancerArn string, listenerArns []string) ([]nlb.ListenerDescription, error)
	TargetGroupName(arn string) (string, error)
}

var _ LoadBalancer = (*nlb.LoadBalancer)(nil)

// Services is what the console reads of the services and tasks.
type Services interface {
	Services() []ecs.ServiceStatus
	Tasks() []ecs.TaskStatus
}

var _ Services = (*ecs.Supervisor)(nil)

// Endpoints are the stack's public URLs, shown in the page's header.
type Endpoints struct {
	APIURL   string `json:"apiUrl"`
	TokenURL string `json:"tokenUrl"`
	JWKSURL  string `json:"jwksUrl"`
}

// Route is one configured method of the gateway, in one stage.
type Route struct {
	Stage       string `json:"stage"`
	Method      string `json:"method"` // as configured: GET, ANY, …
	Resource    string `json:"resource"`
	Auth        string `json:"auth"`        // NONE or COGNITO_USER_POOLS
	Integration string `json:"integration"` // the URI with the stage's variables, or MOCK
}

// Config is the console's sources.
type Config struct {
	LB       LoadBalancer
	Services Services
	Live     *livestats.Live // nil: no statistics
	Traces   Traces          // nil: no recent requests
	Routes   []Route         // the gateway's configured routes
	// Endpoints are read per request (they are published once the stack
	// is up); nil: none.
	Endpoints func() Endpoints
	// StateDir holds the tasks' logs: <StateDir>/tasks/<task>/<container>.log.
	StateDir string
	Logger   *slog.Logger
	Now      func() time.Time
}

// Validate checks that the required sources are set.
func (c Config) Validate() error {
	var errs []error
	if c.LB == nil {
		errs = append(errs, errors.New("console: no load balancer"))
	}
	if c.Services == nil {
		errs = append(errs, errors.New("console: no services"))
	}
	return errors.Join(errs...)
}

// Console serves the page and its JSON.
type Console struct {
	cfg Config
	mux *http.ServeMux
}

// New builds the console's handler.
func New(cfg Config) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Endpoints == nil {
		cfg.Endpoints = func() Endpoints { return Endpoints{} }
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux()}
	ui, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(ui)
	c.mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/"
		files.ServeHTTP(w, r2)
	}))
	c.mux.Handle("GET "+assetPath+"{file}", http.StripPrefix(assetPath, files))
	c.mux.Handle("GET "+StatePath, http.HandlerFunc(c.serveState))
	c.mux.Handle("GET "+LogsPath, http.HandlerFunc(c.serveLogs))
	return c, nil
}

// ServeHTTP serves GET and HEAD only, every response with the CSP.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "the console is read-only: GET and HEAD")
		return
	}
	c.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
