package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/docker"
	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/livestats"
	"github.com/portway/portway/internal/metrics"
	"github.com/portway/portway/internal/nlb"
	"github.com/portway/portway/internal/trace"
)

// Options are what `portway up` needs besides the stack itself.
type Options struct {
	StateDir   string
	Executable string // binary the containers run; default os.Executable()
	Logger     *slog.Logger
	// ReadyTimeout bounds the wait for every service's healthy targets.
	ReadyTimeout time.Duration
	// Subnet is `portway up --subnet`: the private block (ParseSubnet),
	// whatever the config says.
	Subnet string
	// BlockLockDir holds the blocks' lock files (default BlockLockDir()).
	BlockLockDir string

	// blocks are the blocks to pick from (tests; default autoBlocks()).
	blocks []Block
}

// component is what Stack starts and stops, in order.
type component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Stack is a running stack.
type Stack struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	lock    *os.File
	started []namedComponent
	auth    *auth.Server
	gateway *gateway.Gateway
	lb      *nlb.LoadBalancer
	tasks   *ecs.Supervisor
	control *controlauth.Server
	tls     TLSSet
	// live is the console's last-minute statistics: routes and clients
	// from the gateway, tasks from the sidecars' trace hops.
	live *livestats.Live
	// Tracing (tracing.go): the requests' hops, the load balancer's flows,
	// and the collector the tasks send their hops to.
	traces    *trace.Store
	flows     *trace.FlowLog
	collector *trace.Collector
	Endpoint  Endpoints
	// block is the private block the stack runs on, blockLock its hold
	// on it, blockNote what was skipped to get it (block.go).
	block     Block
	blockLock *blockLock
	blockNote string
	// tasksRan: a failed start keeps the task logs (tasks/), which its
	// error points to.
	tasksRan bool

	// published is Endpoint once the stack is ready, for the console.
	published atomic.Pointer[Endpoints]

	// controlToken guards the control API (controlauth.TokenFile).
	controlToken string
	// callbackEnv is the tasks' callback policy, set once the listeners
	// are bound (callbacks.go).
	callbackEnv atomic.Pointer[[]string]
}

type namedComponent struct {
	name string
	c    component
}

// Start brings a stack up: it runs the config's Preflight, claims the
// private block (block.go), then starts auth, load balancer, control API,
// gateway, then the services' tasks. It returns once every service has its
// desired count of healthy targets and the state files are written. On
// any failure what was started is stopped again, and the state dir is left
// as it was found, but for the logs of tasks that ran (rollback.go).
func Start(ctx context.Context, cfg Config, opts Options) (_ *Stack, err error) {
	if opts.StateDir == "" {
		return nil, errors.New("state dir must be set")
	}
	if opts.Subnet != "" {
		b, err := ParseSubnet(opts.Subnet)
		if err != nil {
			return nil, fmt.Errorf("--subnet: %w", err)
		}
		cfg = cfg.WithBlock(b) // whatever the config says
	}
	ctl := controlauth.ServerConfig{Field: "control.listen", Listen: cfg.Control.Listen}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	if opts.Executable == "" {
		if opts.Executable, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the portway binary for the containers: %w", err)
		}
	}
	// Everything that can be checked before binding a port or writing a
	// file is, as `portway config check` does.
	if err := cfg.Preflight(opts.Executable); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.LogWarnings(log)
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	opts.StateDir = abs
	// A start that fails leaves the state dir as it found it (rollback.go).
	snap, err := snapshotState(abs)
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	s := &Stack{cfg: cfg, opts: opts, log: log}
	if s.lock, err = lockStateDir(abs); err != nil {
		// Another stack's: nothing in it is this start's to remove.
		snap.removeCreatedDirs()
		return nil, err
	}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			// The state dir stays locked until it is restored.
			lock := s.lock
			s.lock = nil
			_ = s.Stop(stopCtx)
			if rerr := snap.restore(s.keepOnFailure); rerr != nil {
				log.Warn("a failed start could not remove all it made in the state dir", "err", rerr)
			}
			lock.Close()
		}
	}()
	if cfg, err = s.claimBlock(cfg); err != nil {
		return nil, err
	}
	s.cfg = cfg
	// Stale files from an earlier run would point clients at dead ports.
	_ = os.Remove(filepath.Join(abs, EndpointsFile))

	tokenPath := filepath.Join(abs, controlauth.TokenFile)
	if s.controlToken, err = controlauth.LoadOrCreateToken(tokenPath); err != nil {
		return nil, err
	}
	ctl.Token = s.controlToken
	ctl.Hint = fmt.Sprintf("open the console login URL that `portway up` prints (or `portway control-url --state-dir %s`), "+
		"or send Authorization: Bearer <the token in %s>", shellQuote(abs), tokenPath)

	tlsSet, err := cfg.BuildTLS(abs)
	if err != nil {
		return nil, err
	}
	s.tls = tlsSet
	ctl.TLS = tlsSet.Control
	// One metrics registry for the stack, served at /metrics on the
	// control listener (behind its token).
	reg := metrics.NewRegistry()
	acfg := cfg.AuthComponent(abs, log.With("component", "auth"))
	acfg.TLS = tlsSet.Auth
	acfg.Metrics = reg
	if s.auth, err = auth.New(acfg); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if err = s.start(ctx, "auth", s.auth); err != nil {
		return nil, err
	}
	creds, err := s.ensureDefaultClient()
	if err != nil {
		return nil, err
	}
	if err = reconcileClients(s.auth.Clients(), cfg.Auth.Clients, cfg.AllScopes(), cfg.Auth.TokenValidity, abs, s.auth.TokenURL()); err != nil {
		return nil, err
	}

	s.live = livestats.New(nil)
	if err = s.startTracing(ctx); err != nil {
		return nil, err
	}
	ncfg := cfg.NLBComponent(log.With("component", "nlb"))
	ncfg.TargetCIDRs = cfg.upTargetCIDRs()
	ncfg.Metrics = reg
	ncfg.Flows = s.flows
	if s.lb, err = nlb.New(ncfg); err != nil {
		return nil, fmt.Errorf("nlb: %w", err)
	}
	if err = s.start(ctx, "nlb", s.lb); err != nil {
		return nil, err
	}

	ecfg := cfg.ECSComponent(abs, opts.Executable, registrar{s.lb}, log.With("component", "ecs"))
	ecfg.ExtraEnv = s.taskEnv
	ecfg.Metrics = reg
	eng, err := cfg.dockerEngine(abs, log.With("component", "docker"))
	if err != nil {
		return nil, err
	}
	if eng != nil {
		ecfg.Images = eng
	}
	sup, err := ecs.New(ecfg)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	live := s.live
	gcfg := cfg.GatewayComponent(s.auth.Issuer(), s.auth.JWKSURL(), log.With("component", "gateway"))
	console, err := s.newConsole(sup, gcfg, live, log.With("component", "console"))
	if err != nil {
		return nil, err
	}
	awsCreds, err := awsapi.LoadOrCreateCredentials(abs, cfg.Region())
	if err != nil {
		return nil, err
	}
	router, err := s.awsRouter(awsCreds, sup, registrar{s.lb}, gcfg, controlMux(s.lb.ControlHandler(), sup.Handler(), metrics.Handler(reg), trace.QueryHandler(s.traces), console),
		log.With("component", "awsapi"))
	if err != nil {
		return nil, err
	}
	ctl.Handler = router
	// AWS calls carry SigV4 signatures instead of the control token.
	ctl.SelfAuthenticated = router.Claims
	if s.control, err = controlauth.NewServer(ctl); err != nil {
		return nil, err
	}
	if err = s.start(ctx, "control", s.control); err != nil {
		return nil, err
	}

	gcfg.TLS = tlsSet.Gateway
	gcfg.Authorizer.ClientTLS = tlsSet.Client
	gcfg.Metrics = reg
	gcfg.Live = live
	if cfg.NLB.GatewayLink != LinkTCP {
		gcfg.VPCLink = s.lb
	}
	gcfg.Traces = s.traces
	al, alFile, err := cfg.Gateway.AccessLog.OpenAccessLog(filepath.Join(abs, AccessLogFile))
	if err != nil {
		return nil, err
	}
	gcfg.AccessLog = al
	_ = s.start(ctx, "access log", closerComponent{alFile.Close})
	gw, err := gateway.New(gcfg)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.gateway = gw
	if err = s.start(ctx, "gateway", gw); err != nil {
		return nil, err
	}
	if err = s.setCallbackEnv(gw); err != nil {
		return nil, err
	}

	if eng != nil {
		// Started before the services and so stopped after them: it
		// removes what an earlier run left, and at stop whatever remains.
		if err = s.start(ctx, "docker", eng); err != nil {
			return nil, fmt.Errorf("%s needs Docker: %w", cfg.imageField(), err)
		}
		// The watchdog removes this run's containers should `up` die
		// without doing it (kill -9).
		wd := &docker.Watchdog{Command: append([]string{opts.Executable}, docker.ReaperArgs(eng.Config())...)}
		if err = s.start(ctx, "docker watchdog", wd); err != nil {
			return nil, err
		}
	}
	s.tasks = sup
	s.tasksRan = true
	if err = s.start(ctx, "services", sup); err != nil {
		return nil, err
	}
	if err = s.waitReady(ctx); err != nil {
		return nil, err
	}

	s.Endpoint = Endpoints{
		APIURL:     gw.URL() + "/" + cfg.Gateway.Stage,
		TokenURL:   s.auth.TokenURL(),
		JWKSURL:    s.auth.JWKSURL(),
		ControlURL: s.control.URL(),
		CAFile:     tlsSet.CAFile,
	}
	cfg.describe(&s.Endpoint)
	creds.TokenURL = s.auth.TokenURL()
	if err = writeJSON(filepath.Join(abs, CredentialsFile), creds, 0o600); err != nil {
		return nil, err
	}
	if err = writeJSON(filepath.Join(abs, EndpointsFile), s.Endpoint, 0o644); err != nil {
		return nil, err
	}
	ep := s.Endpoint
	s.published.Store(&ep)
	return s, nil
}

func (s *Stack) start(ctx context.Context, name string, c component) error {
	if err := c.Start(ctx); err != nil {
		if hint := takenHint(name); hint != "" && errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("start %s: %w (%s)", name, err, hint)
		}
		return fmt.Errorf("start %s: %w", name, err)
	}
	s.started = append(s.started, namedComponent{name, c})
	return nil
}

// takenHint says what to do when a component's listen address is taken,
// by another stack perhaps ("" for a component without one).
func takenHint(component string) string {
	flag := map[string]string{"auth": "--auth-listen", "gateway": "--listen", "control": "--control-listen"}[component]
	switch {
	case flag != "":
		return fmt.Sprintf("%s.listen is taken: for a second stack on this machine pass another address, or port 0 for a free one: %s 127.0.0.1:0", component, flag)
	case component == "nlb":
		return "nlb.address is taken: pick another block with --subnet"
	}
	return ""
}

// ensureDefaultClient keeps the client of oauth-credentials.json when the
// pool still knows it, and otherwise creates the default client.
func (s *Stack) ensureDefaultClient() (Credentials, error) {
	if c, err := ReadCredentials(s.opts.StateDir); err == nil && c.ClientID != "" {
		if _, ok := s.auth.Clients().Get(c.ClientID); ok {
			return c, nil
		}
		s.log.Warn("the client in oauth-credentials.json is unknown to the user pool; creating a new default client")
	}
	dc := s.cfg.Auth.DefaultClient
	scopes := dc.Scopes
	if len(scopes) == 0 {
		scopes = s.cfg.AllScopes()
	}
	name := dc.Name
	if name == "" {
		name = "portway-default"
	}
	id, secret, err := s.auth.Clients().Create(name, scopes, s.cfg.Auth.TokenValidity)
	if err != nil {
		return Credentials{}, fmt.Errorf("create the default app client: %w", err)
	}
	c := Credentials{ClientID: id, ClientSecret: secret, TokenURL: s.auth.TokenURL()}
	if err := writeJSON(filepath.Join(s.opts.StateDir, CredentialsFile), c, 0o600); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// waitReady waits until every service has its desired count of healthy
// targets, and names what is missing when the deadline passes.
func (s *Stack) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(s.opts.ReadyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := s.notReady()
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %s (see `portway logs` and the task logs under %s)",
				s.opts.ReadyTimeout, strings.Join(missing, "; "), filepath.Join(s.opts.StateDir, "tasks"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while waiting for healthy targets: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

func (s *Stack) notReady() []string {
	var missing []string
	for _, svc := range s.cfg.Services {
		ths, err := s.lb.DescribeTargetHealth(svc.TargetGroup)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		healthy := 0
		var states []string
		for _, th := range ths {
			if th.TargetHealth.State == "healthy" {
				healthy++
			}
			states = append(states, fmt.Sprintf("%s:%d %s", th.Target.ID, th.Target.Port, th.TargetHealth.State))
		}
		running := s.tasks.RunningCount(svc.Name)
		if healthy < svc.DesiredCount || running < svc.DesiredCount {
			msg := fmt.Sprintf("service %s has %d of %d tasks running, %d healthy targets [%s]",
				svc.Name, running, svc.DesiredCount, healthy, strings.Join(states, ", "))
			if f := s.lastFailure(svc.Name); f != "" {
				msg += "; last task failure: " + f
			}
			missing = append(missing, msg)
		}
	}
	return missing
}

// lastFailure is the stoppedReason of the service's latest failed task
// while its failures go on ("" when none).
func (s *Stack) lastFailure(service string) string {
	for _, st := range s.tasks.Services() {
		if st.Name == service {
			return st.LastFailure
		}
	}
	return ""
}

// Stop stops the stack in reverse order of start: the gateway stops taking
// requests, then tasks are deregistered, drained and stopped, then the load
// balancer, control API and auth go.
func (s *Stack) Stop(ctx context.Context) error {
	var errs []error
	stop := func(nc namedComponent) {
		if err := nc.c.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", nc.name, err))
		}
	}
	// The public door closes first, so that no request arrives while the
	// tasks behind it drain.
	for _, nc := range s.started {
		if nc.name == "gateway" {
			stop(nc)
		}
	}
	for i := len(s.started) - 1; i >= 0; i-- {
		if s.started[i].name != "gateway" {
			stop(s.started[i])
		}
	}
	s.started = nil
	s.blockLock.release()
	s.blockLock = nil
	if s.lock != nil {
		_ = os.Remove(filepath.Join(s.opts.StateDir, EndpointsFile))
		s.lock.Close()
		s.lock = nil
	}
	return errors.Join(errs...)
}

// Summary is the short ready text `portway up` prints.
func (s *Stack) Summary(w io.Writer) {
	e := s.Endpoint
	fmt.Fprintf(w, "portway is up: %d services, %d tasks healthy\n", len(s.cfg.Services), s.healthyTargets())
	fmt.Fprintf(w, "  api      %s\n  token    %s\n  jwks     %s\n  control  %s  (token: %s)\n  console  %s\n  private  %s",
		e.APIURL, e.TokenURL, e.JWKSURL, e.ControlURL, shellQuote(filepath.Join(s.opts.StateDir, controlauth.TokenFile)),
		controlauth.LoginURL(e.ControlURL, s.controlToken), s.block)
	if s.blockNote != "" {
		fmt.Fprintf(w, "  (%s)", s.blockNote)
	}
	fmt.Fprintf(w, "\n  state    %s\n\n", s.opts.StateDir)
	caBundle := ""
	if e.CAFile != "" && s.tls.Control != nil {
		caBundle = "AWS_CA_BUNDLE=" + shellQuote(e.CAFile) + " "
	}
	fmt.Fprintf(w, "The AWS CLI and SDKs on the control URL (ECS, Cognito, ELBv2, API Gateway; README: Driving portway with the AWS CLI):\n  %sAWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s AWS_PROFILE=%s aws --endpoint-url %s ecs list-services --cluster portway\n\n",
		caBundle, shellQuote(filepath.Join(s.opts.StateDir, awsapi.CredentialsFile)), shellQuote(filepath.Join(s.opts.StateDir, awsapi.ConfigFile)),
		awsapi.Profile, e.ControlURL)
	if e.Example != nil {
		curl := "curl"
		if e.CAFile != "" {
			// The local CA: `portway ca` tells how other clients trust it.
			curl = "curl --cacert " + shellQuote(e.CAFile)
		}
		fmt.Fprintf(w, "Try it (%s):\n", e.Example.Describe())
		if e.Example.Scope != "" {
			fmt.Fprintf(w, "  TOKEN=$(portway token --state-dir %s)\n", shellQuote(s.opts.StateDir))
		}
		fmt.Fprintf(w, "  %s\n\n", e.Example.Curl(curl))
	}
	fmt.Fprintf(w, "Ctrl-C stops the stack.\n")
}

func (s *Stack) healthyTargets() int {
	n := 0
	for _, name := range s.lb.TargetGroupNames() {
		ths, _ := s.lb.DescribeTargetHealth(name)
		for _, th := range ths {
			if th.TargetHealth.State == "healthy" {
				n++
			}
		}
	}
	return n
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// lockStateDir takes an exclusive lock on the state dir so that two stacks
// never share one.
func lockStateDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("state dir %s is in use by another `portway up` (use --state-dir for a second stack)", dir)
	}
	return f, nil
}

// registrar lets the supervisor register tasks with the in-process load
// balancer.
type registrar struct{ lb *nlb.LoadBalancer }

func (r registrar) Register(_ context.Context, group, ip string, port int) error {
	return r.lb.RegisterTargets(group, []nlb.Target{{ID: ip, Port: port}})
}

func (r registrar) Deregister(ctx context.Context, group, ip string, port int) error {
	t := nlb.Target{ID: ip, Port: port}
	if err := r.lb.DeregisterTargets(group, []nlb.Target{t}); err != nil {
		if errors.Is(err, nlb.ErrInvalidTarget) {
			return nil // never registered, or already gone
		}
		return err
	}
	return r.lb.WaitDeregistered(ctx, group, t)
}

// TargetGroupARN implements ecs.TargetGroupARNReader, so a task failing ELB
// health checks is stopped "in (target-group arn:…)" as on ECS.
func (r registrar) TargetGroupARN(group string) string {
	arn, _ := r.lb.TargetGroupARN(group)
	return arn
}

// The supervisor gates RUNNING on target health only through this.
var _ ecs.TargetStateReader = registrar{}

// TargetState implements ecs.TargetStateReader: the target's state in its
// group, "unused" when it is not registered.
func (r registrar) TargetState(_ context.Context, group, ip string, port int) (string, error) {
	ths, err := r.lb.DescribeTargetHealth(group)
	if err != nil {
		return "", err
	}
	for _, th := range ths {
		if th.Target.ID == ip && th.Target.Port == port {
			return th.TargetHealth.State, nil
		}
	}
	return "unused", nil
}

// The supervisor tells why a task failed ELB health checks through this.
var _ ecs.TargetHealthDescriber = registrar{}

// TargetHealthDetail implements ecs.TargetHealthDescriber: the target's
// state, description and last health check, in one line.
func (r registrar) TargetHealthDetail(_ context.Context, group, ip string, port int) string {
	ths, err := r.lb.DescribeTargetHealth(group)
	if err != nil {
		return ""
	}
	for _, th := range ths {
		if th.Target.ID == ip && th.Target.Port == port {
			return th.Detail()
		}
	}
	return ""
}

// controlMux routes the control API: the load balancer's ELBv2-shaped API
// under /elbv2/, the services and tasks under /ecs/, the Prometheus
// metrics at /metrics, recent traces under /traces (trace.QueryHandler),
// and a read-only console page at /.
func controlMux(lbAPI, ecsAPI, metricsAPI, traces, console http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/elbv2/", lbAPI)
	mux.Handle("/ecs/", ecsAPI)
	mux.Handle(metrics.Path, metricsAPI)
	mux.Handle(trace.QueryPath, traces)
	mux.Handle(trace.QueryPath+"/", traces)
	mux.Handle("/", console)
	return mux
}
