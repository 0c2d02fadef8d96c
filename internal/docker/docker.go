// Package docker runs the image containers of portway's ECS tasks through
// the Docker Engine API: it implements ecs.ImageRuntime. Each task gets a
// network namespace of its own (awsvpc), held by a small "pause" container
// that publishes the task's container ports on the task's own address
// (127.77.1.N:PORT); the task's containers join it, so they reach each
// other on localhost and two tasks' apps can both bind 0.0.0.0:9001.
//
// Every container carries labels naming the stack (its state dir), the
// service, the task, the container and the run of `portway up`. Start
// removes what an earlier run of the same state dir left behind; Stop
// removes every container this Engine started; a Watchdog process removes
// the run's containers when `portway up` dies without doing so (kill -9).
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/portway/portway/internal/ecs"
)

// Labels on every container portway starts.
const (
	LabelStack     = "io.portway.stack"     // the stack's state dir (absolute)
	LabelService   = "io.portway.service"   // the ECS service
	LabelTask      = "io.portway.task"      // the task ID
	LabelContainer = "io.portway.container" // the container's name in the task definition; "pause" for the namespace holder
	LabelRole      = "io.portway.role"      // RoleApp or RolePause
	LabelRun       = "io.portway.run"       // the run of `portway up` that started it (Config.RunID)
)

// Container roles (LabelRole).
const (
	RoleApp   = "container"
	RolePause = "pause"
)

// Default timeouts.
const (
	DefaultPullTimeout = 10 * time.Minute
	// apiTimeout bounds each short Engine API call (create, start, kill,
	// inspect, remove).
	apiTimeout = 30 * time.Second
)

// Config configures an Engine.
type Config struct {
	// Host is the Engine API address (unix:///var/run/docker.sock,
	// tcp://…); empty means $DOCKER_HOST, else the default socket.
	Host string
	// StateDir identifies the stack: it is the LabelStack of every
	// container, which Start and Stop remove by.
	StateDir string
	// RunID names this run (LabelRun); the watchdog of a run removes only
	// its own containers. Default: a random one.
	RunID string
	// PullTimeout bounds pulling one image (default 10m).
	PullTimeout time.Duration
	Logger      *slog.Logger
}

// Validate checks the config.
func (c Config) Validate() error {
	var errs []error
	if c.StateDir == "" {
		errs = append(errs, errors.New("stateDir: required (it labels the stack's containers)"))
	}
	if c.PullTimeout < 0 {
		errs = append(errs, errors.New("pullTimeout: must be >= 0"))
	}
	return errors.Join(errs...)
}

// Engine runs task containers on one Docker engine.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	cli   *client.Client
	pause string // the pause image's reference, once Start made it

	ctx    context.Context // ends with Stop: cancels waits and pulls
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool
}

var _ ecs.ImageRuntime = (*Engine)(nil)

// New builds an Engine; nothing is contacted until Start.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("docker: invalid config: %w", err)
	}
	if cfg.PullTimeout == 0 {
		cfg.PullTimeout = DefaultPullTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RunID == "" {
		cfg.RunID = NewRunID()
	}
	cli, err := NewClient(cfg.Host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{cfg: cfg, log: cfg.Logger, cli: cli, ctx: ctx, cancel: cancel}, nil
}

// NewClient is an Engine API client for host (empty: $DOCKER_HOST, else
// the default socket), negotiating the API version with the daemon.
func NewClient(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client for %q: %w", host, err)
	}
	return cli, nil
}

// Ping checks that the engine answers, naming where it looked when not.
func Ping(ctx context.Context, cli *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		return fmt.Errorf("the Docker engine at %s does not answer (start dockerd, or point DOCKER_HOST or tasks.docker.host at one): %w", cli.DaemonHost(), err)
	}
	return nil
}

// Start checks that the engine answers, removes the containers an earlier
// run of this stack left, and makes sure the pause image is present.
func (e *Engine) Start(ctx context.Context) error {
	if err := Ping(ctx, e.cli); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	if n, err := e.removeAll(ctx, nil); err != nil {
		return fmt.Errorf("docker: remove containers left by an earlier run: %w", err)
	} else if n > 0 {
		e.log.Warn("removed containers an earlier run of this stack left behind", "count", n, "stateDir", e.cfg.StateDir)
	}
	ref, err := ensurePauseImage(ctx, e.cli)
	if err != nil {
		return fmt.Errorf("docker: pause image: %w", err)
	}
	e.pause = ref
	return nil
}

// Stop removes every container of this stack still there (the supervisor
// has stopped its tasks by then) and closes the client.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	e.mu.Unlock()
	e.cancel()
	n, err := e.removeAll(ctx, nil)
	if n > 0 {
		e.log.Warn("removed containers still running at stop", "count", n)
	}
	return errors.Join(err, e.cli.Close())
}

// Config is the engine's configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Client is the Engine API client (for config checks and tests).
func (e *Engine) Client() *client.Client { return e.cli }

// removeAll force-removes every container of this stack that also has
// the extra labels ("key=value"), and reports how many.
func (e *Engine) removeAll(ctx context.Context, extra []string) (int, error) {
	args := filters.NewArgs(filters.Arg("label", LabelStack+"="+e.cfg.StateDir))
	for _, l := range extra {
		args.Add("label", l)
	}
	lctx, cancel := context.WithTimeout(ctx, apiTimeout)
	list, err := e.cli.ContainerList(lctx, container.ListOptions{All: true, Filters: args})
	cancel()
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, c := range list {
		if err := removeForce(ctx, e.cli, c.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return len(list), errors.Join(errs...)
}

// removeForce removes a container, killing it first if it runs; one that
// is gone already is no error.
func removeForce(ctx context.Context, cli *client.Client, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer cancel()
	err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !client.IsErrNotFound(err) && !strings.Contains(err.Error(), "is already in progress") {
		return fmt.Errorf("remove container %.12s: %w", id, err)
	}
	return nil
}

// labels are a container's labels.
func (e *Engine) labels(service, task, name, role string) map[string]string {
	return map[string]string{
		LabelStack:     e.cfg.StateDir,
		LabelService:   service,
		LabelTask:      task,
		LabelContainer: name,
		LabelRole:      role,
		LabelRun:       e.cfg.RunID,
	}
}

// NewRunID is a random run ID.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// containerName is the Docker name of a task's container: unique per
// daemon (task IDs are random) and readable in `docker ps`.
func containerName(service, task, name string) string {
	if len(task) > 12 {
		task = task[:12]
	}
	var b strings.Builder
	for _, r := range service {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("portway-%s-%s-%s", b.String(), task, name)
}
