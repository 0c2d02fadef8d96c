package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portway/portway/internal/awsid"
	"github.com/portway/portway/internal/taskmeta"
)

// Errors for unknown names.
var (
	ErrServiceNotFound = errors.New("service not found")
	ErrTaskNotFound    = errors.New("task not found or already stopped")
)

// Supervisor runs the services' tasks.
type Supervisor struct {
	cfg         Config
	log         *slog.Logger
	now         func() time.Time
	clock       Clock
	services    []*service
	probeClient *http.Client
	meta        *taskmeta.Server
	metaWarn    sync.Once // the metadata endpoint could not listen in a task namespace
	baseEnv     []string
	metrics     *ecsMetrics // nil without Config.Metrics

	mu       sync.Mutex
	started  bool
	stopping bool
	ipam     *ipam
	tasks    map[string]*task // not yet STOPPED
	stopped  []TaskStatus     // most recent last, at most cfg.StoppedRetention

	ctx    context.Context // ends only when Stop's context ends: forces kills
	cancel context.CancelFunc
	stopCh chan struct{} // closed by Stop: service loops exit
	wg     sync.WaitGroup
}

// New validates cfg and builds a Supervisor; nothing runs until Start.
func New(cfg Config) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ecs: invalid config: %w", err)
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("ecs: executable: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.Region == "" {
		cfg.Region = awsid.DefaultRegion
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Clock.Now
	}
	if cfg.LogMaxBytes == 0 {
		cfg.LogMaxBytes = DefaultLogMaxBytes
	}
	if cfg.StoppedRetention == 0 {
		cfg.StoppedRetention = DefaultStoppedRetention
	}
	if cfg.Runtime == nil {
		cfg.Runtime = ProcessRuntime{}
	}
	cfg.Services = slices.Clone(cfg.Services)
	s := &Supervisor{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Now,
		clock:  cfg.Clock,
		ipam:   newIPAM(netip.MustParsePrefix(cfg.Subnet)), // validated
		tasks:  map[string]*task{},
		stopCh: make(chan struct{}),
		probeClient: &http.Client{
			Transport: &http.Transport{
				Proxy:                  nil,
				DialContext:            (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
				DisableKeepAlives:      true,
				MaxResponseHeaderBytes: 64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	for _, sc := range cfg.Services {
		s.services = append(s.services, newService(sc, cfg.Now()))
	}
	s.baseEnv = cfg.BaseEnv
	if s.baseEnv == nil {
		s.baseEnv = HostBaseEnv()
	}
	meta, err := taskmeta.New(taskmeta.Config{Listen: cfg.MetadataListen, Source: metadataSource{s},
		Logger: cfg.Logger.With("component", "taskmeta")})
	if err != nil {
		return nil, fmt.Errorf("ecs: metadataListen: %w", err)
	}
	s.meta = meta
	if err := s.registerMetrics(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("ecs: %w", err)
	}
	return s, nil
}

// Start checks the executable and state directory, then launches every
// service's tasks and returns without waiting for them to become healthy
// (poll RunningCount or Tasks).
func (s *Supervisor) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ecs: start: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopping {
		return errors.New("ecs: already started or stopped")
	}
	if err := checkExecutableFile(s.cfg.Executable); err != nil {
		return fmt.Errorf("ecs: executable: %w", err)
	}
	for _, sv := range s.services {
		if err := resolveContainers(&sv.cfg); err != nil {
			return fmt.Errorf("ecs: %w", err)
		}
		if hasImages(sv.cfg.Containers) && s.cfg.Images == nil {
			return fmt.Errorf("ecs: service %s: image containers need a container runtime (Docker), and none is configured", sv.name)
		}
		sv.primary().cfg = sv.cfg
	}
	if err := os.MkdirAll(filepath.Join(s.cfg.StateDir, "tasks"), 0o750); err != nil {
		return fmt.Errorf("ecs: stateDir: %w", err)
	}
	if err := s.meta.Start(ctx); err != nil {
		return fmt.Errorf("ecs: task metadata endpoint: %w", err)
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, sv := range s.services {
		s.wg.Add(1)
		go s.runService(sv)
	}
	return nil
}

// Stop sets every task's desiredStatus to STOPPED and stops them in
// parallel: deregister and drain, then SIGTERM the containers in reverse
// order and SIGKILL those still running after StopTimeout. When ctx ends
// first, draining is cut short and every remaining container is killed.
// Either way Stop returns only after every child process has been reaped;
// the error reports a forced stop.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopping {
		s.stopping = true
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.stopping = true
	close(s.stopCh)
	for _, t := range s.tasks {
		s.requestStopLocked(t, StopCodeServiceScheduler, ReasonShutdown, false)
	}
	s.mu.Unlock()

	var forced atomic.Bool
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			forced.Store(true)
			s.cancel()
		case <-done:
		}
	}()
	s.wg.Wait()
	close(done)
	s.cancel()
	metaCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.meta.Stop(metaCtx) // every task has stopped: nobody reads it any more
	if forced.Load() {
		return fmt.Errorf("ecs: stop: %w: draining cut short, remaining containers killed", ctx.Err())
	}
	return nil
}

// StopTask stops one task as a user would (ECS StopTask); its service
// starts a replacement at once.
func (s *Supervisor) StopTask(taskID string) error { return s.StopTaskWithReason(taskID, "") }

// StopTaskWithReason is StopTask with ECS StopTask's reason, the task's
// stoppedReason ("" means ReasonUserStop).
func (s *Supervisor) StopTaskWithReason(taskID, reason string) error {
	if reason == "" {
		reason = ReasonUserStop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[taskID]
	if !ok {
		return fmt.Errorf("ecs: %w: %q", ErrTaskNotFound, taskID)
	}
	s.requestStopLocked(t, StopCodeUserInitiated, reason, false)
	return nil
}

// TaskDefinition is one revision of a service's task definition: the
// service's configuration when that revision was current.
type TaskDefinition struct {
	Family   string // the service's name
	Revision int
	Config   ServiceConfig
	// Current: the service's present revision (older ones are listed while
	// a deployment still runs them).
	Current bool
}

// TaskDefinitions returns the current task definition of every service,
// and the older revisions its deployments still run, in configuration
// order, newest revision first.
func (s *Supervisor) TaskDefinitions() []TaskDefinition {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TaskDefinition
	for _, sv := range s.services {
		current := sv.primary().revision
		seen := map[int]bool{current: true}
		defs := []TaskDefinition{{Family: sv.name, Revision: current, Config: cloneSpec(sv.spec), Current: true}}
		for _, d := range slices.Backward(sv.deployments) {
			if !seen[d.revision] {
				seen[d.revision] = true
				defs = append(defs, TaskDefinition{Family: sv.name, Revision: d.revision, Config: cloneSpec(d.spec)})
			}
		}
		slices.SortFunc(defs, func(a, b TaskDefinition) int { return b.Revision - a.Revision })
		out = append(out, defs...)
	}
	return out
}

func cloneSpec(c ServiceConfig) ServiceConfig {
	c.Containers = cloneContainers(c.Containers)
	return c
}

// Tasks returns snapshots of live tasks and the most recently stopped ones,
// oldest first.
func (s *Supervisor) Tasks() []TaskStatus {
	s.mu.Lock()
	out := make([]TaskStatus, 0, len(s.tasks)+len(s.stopped))
	for _, t := range s.tasks {
		out = append(out, t.snapshot())
	}
	for _, ts := range s.stopped {
		ts.Containers = slices.Clone(ts.Containers)
		out = append(out, ts)
	}
	s.mu.Unlock()
	slices.SortStableFunc(out, func(a, b TaskStatus) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.TaskID, b.TaskID)
	})
	return out
}

// RunningCount is the number of the service's tasks in RUNNING.
func (s *Supervisor) RunningCount(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tasks {
		if t.cfg.Name == service && t.lastStatus == StatusRunning {
			n++
		}
	}
	return n
}
