// Package ecs is portway's task supervisor: an ECS stand-in that runs each
// task as a set of child processes ("containers") sharing one loopback IP
// (awsvpc-style), registers a task with its target group once it answers its
// readiness probe, keeps each service at its desired count, and drains tasks
// before stopping them.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Registrar is the consumer-side view of the load balancer (the lead adapts
// *nlb.LoadBalancer to it).
type Registrar interface {
	Register(ctx context.Context, group, ip string, port int) error
	// Deregister returns when the target is drained (or ctx ends).
	Deregister(ctx context.Context, group, ip string, port int) error
}

// Defaults.
const (
	DefaultStopTimeout       = 30 * time.Second
	DefaultReadinessTimeout  = 60 * time.Second
	DefaultReadinessInterval = 200 * time.Millisecond
	DefaultBackoffInitial    = 1 * time.Second
	DefaultBackoffMax        = 30 * time.Second
	DefaultStableAfter       = 30 * time.Second
	DefaultLogMaxBytes       = 10 << 20
	DefaultStoppedRetention  = 50
)

// Config configures a Supervisor.
type Config struct {
	// StateDir holds container logs at <StateDir>/tasks/<taskID>/<container>.log.
	StateDir string
	// Executable is the binary every container runs (default os.Executable()).
	Executable string
	// Subnet is the task address range, e.g. "127.77.1.0/24": tasks get the
	// lowest free host address, starting at .1.
	Subnet    string
	Services  []ServiceConfig
	Registrar Registrar // required when any service has a TargetGroup
	Logger    *slog.Logger
	// Now stamps reported times (createdAt, startedAt, stoppedAt). Back-off
	// and timeouts run on the monotonic clock.
	Now func() time.Time

	// LogMaxBytes caps each container log; the file is rotated to .log.1
	// when a write would exceed it (default 10 MB).
	LogMaxBytes int64
	// StoppedRetention is how many stopped tasks Tasks() keeps (default 50).
	StoppedRetention int
	// Runtime starts containers (default: local processes).
	Runtime Runtime
}

// ServiceConfig is an ECS service with its (single) task definition.
type ServiceConfig struct {
	Name         string
	DesiredCount int
	// TargetGroup, when set, is registered with ip:ContainerPort once the
	// task is ready; empty means the service has no load balancer.
	TargetGroup   string
	ContainerName string // the container serving ContainerPort, e.g. "nginx"
	ContainerPort int    // e.g. 9000
	// ReadinessPath is probed with HTTP GET on ip:ContainerPort until it
	// answers 200; empty means a TCP connect is enough.
	ReadinessPath string
	// StopTimeout is how long a container gets between SIGTERM and SIGKILL (default 30s).
	StopTimeout time.Duration
	Containers  []ContainerConfig

	// ReadinessTimeout bounds the readiness wait (default 60s); a task not
	// ready by then is stopped and replaced.
	ReadinessTimeout time.Duration
	// ReadinessInterval is the pause between probes (default 200ms).
	ReadinessInterval time.Duration
	// BackoffInitial and BackoffMax shape the delay before replacing a task
	// that failed (doubling per consecutive failure; defaults 1s and 30s).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// StableAfter: a task that ran this long before stopping is not counted
	// as a start failure (default 30s).
	StableAfter time.Duration
}

// ContainerConfig is one container of the task definition.
type ContainerConfig struct {
	Name string
	// Command is the argument list for Executable; "${TASK_IP}" and
	// "${TASK_ID}" are replaced (also in Env).
	Command   []string
	Env       []string // KEY=VALUE, appended to portway's environment
	Essential bool
}

// Validate checks the config; errors name the field.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.StateDir == "" {
		add("stateDir: required")
	}
	if c.Subnet == "" {
		add("subnet: required")
	} else if p, err := netip.ParsePrefix(c.Subnet); err != nil {
		add("subnet: %w", err)
	} else if !p.Addr().Is4() {
		add("subnet: must be an IPv4 prefix, got %q", c.Subnet)
	} else if p.Bits() > 30 {
		add("subnet: prefix /%d leaves no room for tasks (need /30 or wider)", p.Bits())
	}
	if c.LogMaxBytes < 0 {
		add("logMaxBytes: must be >= 0")
	}
	if c.StoppedRetention < 0 {
		add("stoppedRetention: must be >= 0")
	}
	names := map[string]bool{}
	for i, s := range c.Services {
		f := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			add("%s.name: required", f)
		} else if names[s.Name] {
			add("%s.name: duplicate service %q", f, s.Name)
		}
		names[s.Name] = true
		if s.DesiredCount < 0 {
			add("%s.desiredCount: must be >= 0", f)
		}
		if s.ContainerPort < 0 || s.ContainerPort > 65535 {
			add("%s.containerPort: must be 0..65535", f)
		}
		if s.TargetGroup != "" {
			if s.ContainerPort == 0 {
				add("%s.containerPort: required with targetGroup", f)
			}
			if c.Registrar == nil {
				add("registrar: required (service %q has targetGroup %q)", s.Name, s.TargetGroup)
			}
		}
		if s.ReadinessPath != "" && !strings.HasPrefix(s.ReadinessPath, "/") {
			add("%s.readinessPath: must start with /", f)
		}
		if s.ReadinessPath != "" && s.ContainerPort == 0 {
			add("%s.containerPort: required with readinessPath", f)
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{
			{"stopTimeout", s.StopTimeout},
			{"readinessTimeout", s.ReadinessTimeout},
			{"readinessInterval", s.ReadinessInterval},
			{"backoffInitial", s.BackoffInitial},
			{"backoffMax", s.BackoffMax},
			{"stableAfter", s.StableAfter},
		} {
			if d.v < 0 {
				add("%s.%s: must be >= 0", f, d.name)
			}
		}
		if len(s.Containers) == 0 {
			add("%s.containers: at least one container required", f)
		}
		cnames := map[string]bool{}
		essential := false
		for j, ct := range s.Containers {
			cf := fmt.Sprintf("%s.containers[%d]", f, j)
			switch {
			case ct.Name == "":
				add("%s.name: required", cf)
			case !validFileName(ct.Name):
				add("%s.name: %q must be letters, digits, '-', '_' or '.'", cf, ct.Name)
			case cnames[ct.Name]:
				add("%s.name: duplicate container %q", cf, ct.Name)
			}
			cnames[ct.Name] = true
			essential = essential || ct.Essential
			for k, e := range ct.Env {
				if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
					add("%s.env[%d]: must be KEY=VALUE", cf, k)
				}
			}
		}
		if len(s.Containers) > 0 && !essential {
			add("%s.containers: at least one container must be essential", f)
		}
		if s.ContainerName != "" && !cnames[s.ContainerName] {
			add("%s.containerName: no container named %q", f, s.ContainerName)
		}
	}
	return errors.Join(errs...)
}

func validFileName(s string) bool {
	if s == "." || s == ".." || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func (s ServiceConfig) withDefaults() ServiceConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.StopTimeout, DefaultStopTimeout)
	def(&s.ReadinessTimeout, DefaultReadinessTimeout)
	def(&s.ReadinessInterval, DefaultReadinessInterval)
	def(&s.BackoffInitial, DefaultBackoffInitial)
	def(&s.BackoffMax, DefaultBackoffMax)
	def(&s.StableAfter, DefaultStableAfter)
	if s.BackoffMax < s.BackoffInitial {
		s.BackoffMax = s.BackoffInitial
	}
	return s
}

// backoff is the delay before the next launch after n consecutive failures.
func (s ServiceConfig) backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := s.BackoffInitial
	for i := 1; i < n && d < s.BackoffMax; i++ {
		d *= 2
	}
	return min(d, s.BackoffMax)
}
