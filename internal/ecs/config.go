// Package ecs is portway's task supervisor: an ECS stand-in that runs each
// task as a set of child processes ("containers") sharing one loopback IP
// (awsvpc-style), or of containers from images through an ImageRuntime
// (Docker) in a network namespace of the task's own, published on that IP,
// registers a task with its target group once it answers its
// readiness probe, keeps each service at its desired count, and drains tasks
// before stopping them. Each container gets a clean environment (env.go)
// and its ECS task metadata endpoint (metadata.go, internal/taskmeta).
package ecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Registrar is the consumer-side view of the load balancer (the lead adapts
// *nlb.LoadBalancer to it).
type Registrar interface {
	Register(ctx context.Context, group, ip string, port int) error
	// Deregister returns when the target is drained (or ctx ends).
	Deregister(ctx context.Context, group, ip string, port int) error
}

// TargetStateReader is implemented by a Registrar that can report a
// target's health in its group: "initial", "healthy", "unhealthy",
// "draining" or "unused" (as ELBv2 DescribeTargetHealth). When the
// Registrar implements it, a task becomes RUNNING only once its target is
// healthy, and a task whose target turns unhealthy after the service's
// HealthCheckGracePeriod is replaced ("Task failed ELB health checks").
// Without it, a task is RUNNING as soon as it is registered.
type TargetStateReader interface {
	TargetState(ctx context.Context, group, ip string, port int) (state string, err error)
}

// TargetGroupARNReader is implemented by a Registrar that knows its target
// groups' ARNs: a task that fails ELB health checks is stopped with the
// group's ARN in its stoppedReason, as ECS words it (else the group's name).
type TargetGroupARNReader interface {
	TargetGroupARN(group string) string
}

// Target states reported by a TargetStateReader.
const (
	TargetInitial   = "initial"
	TargetHealthy   = "healthy"
	TargetUnhealthy = "unhealthy"
	// TargetUnhealthyDraining is an unhealthy NLB target whose connections
	// drain (the group's unhealthy connection termination is off): as
	// unhealthy for the task.
	TargetUnhealthyDraining = "unhealthy.draining"
	TargetDraining          = "draining"
	TargetUnused            = "unused"
)

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
	DefaultMinimumHealthy    = 100 // percent of desiredCount
	DefaultMaximumPercent    = 200 // percent of desiredCount
)

// Container engines.
const (
	// EngineProcess runs Config.Executable with the container's Command.
	EngineProcess = ""
	// EngineNginx runs the system's nginx with a generated configuration:
	// the sidecar (CORS, X-Real-IP, X-Forwarded-For) in front of the app.
	EngineNginx = "nginx"
)

// Config configures a Supervisor.
type Config struct {
	// StateDir holds container logs at <StateDir>/tasks/<taskID>/<container>.log.
	StateDir string
	// Executable is the binary every container runs (default os.Executable()).
	Executable string
	// Subnet is the task address range, e.g. "127.77.1.0/24": tasks get the
	// lowest free host address, starting at .1.
	Subnet string
	// Region is the AWS region the tasks' ARNs and metadata name (default
	// awsid.DefaultRegion), as the stack's other ARNs do.
	Region    string
	Services  []ServiceConfig
	Registrar Registrar // required when any service has a TargetGroup
	// Metrics, when set, gets the supervisor's Prometheus collectors
	// (metrics.go); nil: no metrics.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
	// Now stamps reported times (createdAt, startedAt, stoppedAt); nil
	// means Clock.Now.
	Now func() time.Time
	// Clock drives back-off, grace periods, readiness, dependency and
	// health check timing and stopTimeout (nil: RealClock).
	Clock Clock

	// LogMaxBytes caps each container log; the file is rotated to .log.1
	// when a write would exceed it (default 10 MB).
	LogMaxBytes int64
	// StoppedRetention is how many stopped tasks Tasks() keeps (default 50).
	StoppedRetention int
	// Runtime starts containers (default: local processes).
	Runtime Runtime
	// Images runs the containers that have an Image (Docker); nil means
	// a service with an image container fails to start.
	Images ImageRuntime
	// ExtraEnv, if set, is called at each container start (and for its
	// health checks): its KEY=VALUE entries follow the container's own Env,
	// so they win. It carries what is known only once the supervisor
	// exists, such as the addresses its owner has bound since; it is not
	// part of any task definition.
	ExtraEnv func() []string
	// BaseEnv is the environment every container starts from, before its
	// definition's variables (nil: HostBaseEnv(), PATH, HOME and TMPDIR of
	// portway's own environment). Nothing else of portway's environment
	// reaches a container.
	BaseEnv []string
	// MetadataListen is the loopback host:port of the task metadata
	// endpoint (ECS_CONTAINER_METADATA_URI_V4) for host-process
	// containers (default 127.0.0.1:0).
	MetadataListen string
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
	// StopTimeout is how long a container gets between SIGTERM and SIGKILL
	// (default 30s), unless the container has its own StopTimeout.
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

	// HealthCheckGracePeriod is how long after its containers started a
	// task's unhealthy target is tolerated; after it an unhealthy target
	// gets the task replaced ("Task failed ELB health checks"). Default 0.
	// Only with a TargetGroup and a Registrar that is a TargetStateReader.
	HealthCheckGracePeriod time.Duration
	// MinimumHealthyPercent (default 100; nil means the default) and
	// MaximumPercent (default 200) bound a rolling deployment, as
	// percentages of DesiredCount: new tasks start while the service has
	// fewer than floor(desired*max/100) tasks, and an old RUNNING task is
	// stopped only while ceil(desired*min/100) others stay RUNNING.
	MinimumHealthyPercent *int
	MaximumPercent        int
	// DeploymentCircuitBreaker (ECS deploymentConfiguration.
	// deploymentCircuitBreaker), when enabled, marks a deployment FAILED
	// once CircuitBreakerThreshold(desired) of its tasks in a row have
	// failed (stopped without the service asking: an essential container
	// exited, health checks failed, a container could not start); a task
	// reaching RUNNING resets the count. A FAILED deployment launches no
	// more tasks; with Rollback, the service goes back to the task
	// definition of its last COMPLETED deployment, in a new deployment.
	// nil: no circuit breaker (failures are still counted and reported).
	DeploymentCircuitBreaker *CircuitBreaker
}

// CircuitBreaker is a service's deployment circuit breaker (ECS
// DeploymentCircuitBreaker: enable, rollback).
type CircuitBreaker struct {
	Enable   bool `yaml:"enable" json:"enable"`
	Rollback bool `yaml:"rollback" json:"rollback"`
}

// ContainerConfig is one container of the task definition.
type ContainerConfig struct {
	Name string
	// Engine is what the container runs: EngineProcess ("", the default)
	// runs Executable with Command; EngineNginx runs the system's nginx
	// as the sidecar, configured from Command's "--listen ADDR" (default
	// "${TASK_IP}:9000") and "--upstream URL" (default
	// "http://${TASK_IP}:9001"), so a built-in sidecar container can switch
	// engines without other changes.
	Engine string
	// Executable, when set, is the program this container runs (an
	// absolute path, or a name looked up on $PATH when the supervisor
	// starts) instead of Config.Executable: any program, not only
	// portway's built-ins. Not with EngineNginx.
	Executable string
	// Command is the argument list for the executable; "${TASK_IP}" and
	// "${TASK_ID}" are replaced (also in Env).
	Command   []string
	Env       []string // KEY=VALUE (see taskEnv for the rest of the environment)
	Essential bool

	// Secrets are environment variables read from files when the
	// container starts (ECS secrets with valueFrom); one trailing newline
	// is dropped. An unreadable file stops the task (CannotStartContainerError:
	// "unable to retrieve secret NAME from PATH").
	Secrets []Secret
	// DependsOn delays the container's start until other containers of the
	// task have started (START) or are healthy (HEALTHY). Containers stop
	// in the reverse order.
	DependsOn []Dependency
	// HealthCheck, when set, runs a command in the container's environment
	// (ECS container health check). An essential container that turns
	// UNHEALTHY stops its task ("Task failed container health checks").
	HealthCheck *HealthCheck
	// PortMappings are the ports the container listens on, on the task's
	// address (awsvpc: host port = container port). A port/protocol is
	// mapped at most once per task. When any container declares mappings,
	// the service's ContainerPort must be a tcp mapping of ContainerName.
	// An image container's mappings are published on the task's address
	// (image.go); a process binds its own, they are declarative and show
	// in TaskStatus.
	PortMappings []PortMapping
	// StopTimeout is how long this container gets between its stop signal
	// and SIGKILL (ECS containerDefinitions.stopTimeout); 0 means the
	// service's StopTimeout (default 30s).
	StopTimeout time.Duration

	// Image, when set, runs the container from this container image
	// through Config.Images (image.go) instead of as a local process; the
	// fields below apply to image containers only (ECS
	// containerDefinitions). Command is then the image's CMD override.
	Image                  string
	EntryPoint             []string // nil: the image's ENTRYPOINT
	WorkingDirectory       string
	User                   string
	ReadonlyRootFilesystem bool
	Ulimits                []Ulimit
	Memory                 int // MiB, hard limit; 0: none
	MemoryReservation      int // MiB, soft limit; 0: none
	CPU                    int // CPU units (1024 = one CPU), a relative weight
}

// Ulimit is one entry of ContainerConfig.Ulimits (ECS ulimits).
type Ulimit struct {
	Name      string `yaml:"name" json:"name"`
	SoftLimit int64  `yaml:"softLimit" json:"softLimit"`
	HardLimit int64  `yaml:"hardLimit" json:"hardLimit"`
}

// Port mapping protocols.
const (
	ProtocolTCP = "tcp"
	ProtocolUDP = "udp"
)

// PortMapping is one entry of ContainerConfig.PortMappings.
type PortMapping struct {
	ContainerPort int `yaml:"containerPort" json:"containerPort"` // 1..65535
	// HostPort is 0 or ContainerPort (awsvpc: a task's ports are
	// published on its own address under the same number).
	HostPort int    `yaml:"hostPort,omitempty" json:"hostPort,omitempty"`
	Protocol string `yaml:"protocol,omitempty" json:"protocol"` // "tcp" (default) or "udp"
}

func (p PortMapping) protocol() string {
	if p.Protocol == "" {
		return ProtocolTCP
	}
	return p.Protocol
}

// portMappings returns the container's mappings with protocols filled in
// (nil without any).
func (c ContainerConfig) portMappings() []PortMapping {
	if len(c.PortMappings) == 0 {
		return nil
	}
	out := make([]PortMapping, len(c.PortMappings))
	for i, p := range c.PortMappings {
		out[i] = PortMapping{ContainerPort: p.ContainerPort, HostPort: p.ContainerPort, Protocol: p.protocol()}
	}
	return out
}

// stopTimeout is how long container c of the service's task definition
// gets between its stop signal and SIGKILL.
func (s ServiceConfig) stopTimeout(c ContainerConfig) time.Duration {
	if c.StopTimeout > 0 {
		return c.StopTimeout
	}
	return s.StopTimeout
}

// Secret is an environment variable whose value is a file's content.
type Secret struct {
	Name      string `yaml:"name"`      // variable name
	ValueFrom string `yaml:"valueFrom"` // file path; "${TASK_ID}" and "${TASK_IP}" are replaced
}

// Dependency conditions.
const (
	ConditionStart   = "START"
	ConditionHealthy = "HEALTHY"
)

// Dependency is one entry of ContainerConfig.DependsOn.
type Dependency struct {
	ContainerName string `yaml:"containerName"`
	Condition     string `yaml:"condition"` // START (default) or HEALTHY
}

// Container health statuses.
const (
	HealthUnknown   = "UNKNOWN"
	HealthHealthy   = "HEALTHY"
	HealthUnhealthy = "UNHEALTHY"
)

// Health check defaults (as ECS).
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 5 * time.Second
	DefaultHealthRetries  = 3
)

// HealthCheck is a container health check. Command is ["CMD", exe,
// args...] (exe looked up on $PATH) or ["CMD-SHELL", "shell command"]
// (run with /bin/sh -c); "${TASK_IP}" and "${TASK_ID}" are replaced. Exit
// status 0 is healthy. After Retries consecutive failures the container
// is UNHEALTHY; a success makes it HEALTHY. Failures during StartPeriod do
// not count, unless a check has already passed (as docker).
type HealthCheck struct {
	Command     []string      `yaml:"command"`
	Interval    time.Duration `yaml:"interval,omitempty"`    // default 30s
	Timeout     time.Duration `yaml:"timeout,omitempty"`     // default 5s
	Retries     int           `yaml:"retries,omitempty"`     // default 3
	StartPeriod time.Duration `yaml:"startPeriod,omitempty"` // default 0
}

func (h HealthCheck) withDefaults() HealthCheck {
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.Retries == 0 {
		h.Retries = DefaultHealthRetries
	}
	return h
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
		if s.Name != "" && names[s.Name] {
			add("%s.name: duplicate service %q", f, s.Name)
		}
		names[s.Name] = true
		errs = append(errs, s.validate(f, c.Registrar != nil)...)
	}
	return errors.Join(errs...)
}

// validate checks one service; f names it in errors ("services[0]").
// haveRegistrar tells whether the supervisor has a Registrar.
func (s ServiceConfig) validate(f string, haveRegistrar bool) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.Name == "" {
		add("%s.name: required", f)
	}
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
		if !haveRegistrar {
			add("registrar: required (service %q has targetGroup %q)", s.Name, s.TargetGroup)
		}
	}
	if s.ReadinessPath != "" && !strings.HasPrefix(s.ReadinessPath, "/") {
		add("%s.readinessPath: must start with /", f)
	}
	if s.MinimumHealthyPercent != nil && (*s.MinimumHealthyPercent < 0 || *s.MinimumHealthyPercent > 100) {
		add("%s.minimumHealthyPercent: must be 0..100", f)
	}
	if s.MaximumPercent != 0 && (s.MaximumPercent < 100 || s.MaximumPercent > 1000) {
		add("%s.maximumPercent: must be 100..1000", f)
	}
	if cb := s.DeploymentCircuitBreaker; cb != nil && cb.Rollback && !cb.Enable {
		add("%s.deploymentCircuitBreaker.rollback: needs enable: true (the circuit breaker decides when to roll back)", f)
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
		{"healthCheckGracePeriod", s.HealthCheckGracePeriod},
	} {
		if d.v < 0 {
			add("%s.%s: must be >= 0", f, d.name)
		}
	}
	if len(s.Containers) == 0 {
		add("%s.containers: at least one container required", f)
	}
	cnames := map[string]bool{}
	ports := map[string]string{} // "9000/tcp" → container
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
		switch ct.Engine {
		case EngineProcess:
		case EngineNginx:
			if _, err := parseNginxCommand(ct.Command); err != nil {
				add("%s.command: %v", cf, err)
			}
		default:
			add("%s.engine: %q is not one of \"\" (process) or \"nginx\"", cf, ct.Engine)
		}
		if ct.Executable != "" && ct.Engine != EngineProcess {
			add("%s.executable: not allowed with engine %q", cf, ct.Engine)
		}
		errs = append(errs, validateImageContainer(cf, ct)...)
		for k, e := range ct.Env {
			if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
				add("%s.env[%d]: must be KEY=VALUE", cf, k)
			}
		}
		for k, sec := range ct.Secrets {
			if sec.Name == "" || strings.ContainsAny(sec.Name, "= \t\n") {
				add("%s.secrets[%d].name: must be a variable name", cf, k)
			}
			if sec.ValueFrom == "" {
				add("%s.secrets[%d].valueFrom: required (a file path)", cf, k)
			}
		}
		if hc := ct.HealthCheck; hc != nil {
			hf := cf + ".healthCheck"
			switch {
			case len(hc.Command) < 2:
				add("%s.command: want [\"CMD\", exe, args...] or [\"CMD-SHELL\", command]", hf)
			case hc.Command[0] == "CMD-SHELL" && len(hc.Command) != 2:
				add("%s.command: CMD-SHELL takes exactly one command string", hf)
			case hc.Command[0] != "CMD" && hc.Command[0] != "CMD-SHELL":
				add("%s.command[0]: %q is not CMD or CMD-SHELL", hf, hc.Command[0])
			}
			if hc.Interval < 0 || hc.Timeout < 0 || hc.StartPeriod < 0 {
				add("%s: interval, timeout and startPeriod must be >= 0", hf)
			}
			if hc.Retries < 0 {
				add("%s.retries: must be >= 0", hf)
			}
		}
		if ct.StopTimeout < 0 {
			add("%s.stopTimeout: must be >= 0", cf)
		}
		for k, pm := range ct.PortMappings {
			pf := fmt.Sprintf("%s.portMappings[%d]", cf, k)
			if pm.ContainerPort < 1 || pm.ContainerPort > 65535 {
				add("%s.containerPort: must be 1..65535, got %d", pf, pm.ContainerPort)
			}
			if pm.HostPort != 0 && pm.HostPort != pm.ContainerPort {
				add("%s.hostPort: must be omitted or equal containerPort (%d) in awsvpc mode, got %d", pf, pm.ContainerPort, pm.HostPort)
			}
			proto := pm.protocol()
			if proto != ProtocolTCP && proto != ProtocolUDP {
				add("%s.protocol: %q is not \"tcp\" or \"udp\"", pf, pm.Protocol)
				continue
			}
			// awsvpc: the task's containers share one address, so a port
			// can be mapped once per task.
			key := fmt.Sprintf("%d/%s", pm.ContainerPort, proto)
			if other, dup := ports[key]; dup {
				add("%s.containerPort: %s is already mapped by container %q", pf, key, other)
			} else {
				ports[key] = ct.Name
			}
		}
	}
	for _, e := range dependencyErrors(s.Containers) {
		add("%s.%s", f, e)
	}
	if len(s.Containers) > 0 && !essential {
		add("%s.containers: at least one container must be essential", f)
	}
	if s.ContainerName != "" && !cnames[s.ContainerName] {
		add("%s.containerName: no container named %q", f, s.ContainerName)
	}
	// With port mappings declared, the load-balanced port must be one of
	// them (ECS: the containerName/containerPort of a load balancer must
	// match a port mapping of the task definition).
	if len(ports) > 0 && s.ContainerPort > 0 && s.ContainerPort <= 65535 {
		key := fmt.Sprintf("%d/%s", s.ContainerPort, ProtocolTCP)
		switch owner, ok := ports[key]; {
		case !ok && s.ContainerName != "":
			add("%s.containerPort: %d is not a tcp port mapping of container %q", f, s.ContainerPort, s.ContainerName)
		case !ok:
			add("%s.containerPort: %d is not a tcp port mapping of any container", f, s.ContainerPort)
		case s.ContainerName != "" && owner != s.ContainerName && cnames[s.ContainerName]:
			add("%s.containerPort: %d is a port mapping of container %q, not of containerName %q", f, s.ContainerPort, owner, s.ContainerName)
		}
	}
	return errs
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
	if s.MinimumHealthyPercent == nil {
		v := DefaultMinimumHealthy
		s.MinimumHealthyPercent = &v
	}
	if s.MaximumPercent == 0 {
		s.MaximumPercent = DefaultMaximumPercent
	}
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

// deploymentBounds returns, for desired tasks, the most tasks the service
// may have (desired RUNNING, any deployment) and the fewest RUNNING tasks a
// deployment must keep. When the two leave no room to replace a task, one
// extra task is allowed, so a deployment can always make progress.
func (s ServiceConfig) deploymentBounds(desired int) (maxTasks, minHealthy int) {
	maxTasks = desired * s.MaximumPercent / 100
	minHealthy = (desired**s.MinimumHealthyPercent + 99) / 100
	if maxTasks < desired {
		maxTasks = desired
	}
	if desired > 0 && maxTasks <= minHealthy {
		maxTasks = minHealthy + 1
	}
	return maxTasks, minHealthy
}

// dependencyErrors checks DependsOn: known containers, conditions, HEALTHY
// only on containers with a health check, no cycles.
func dependencyErrors(cs []ContainerConfig) []string {
	var errs []string
	byName := map[string]ContainerConfig{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	for j, c := range cs {
		for k, d := range c.DependsOn {
			df := fmt.Sprintf("containers[%d].dependsOn[%d]", j, k)
			dep, ok := byName[d.ContainerName]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s.containerName: no container named %q", df, d.ContainerName))
			case d.ContainerName == c.Name:
				errs = append(errs, fmt.Sprintf("%s.containerName: a container cannot depend on itself", df))
			}
			switch d.Condition {
			case "", ConditionStart:
			case ConditionHealthy:
				if ok && dep.HealthCheck == nil {
					errs = append(errs, fmt.Sprintf("%s.condition: HEALTHY needs a healthCheck on container %q", df, d.ContainerName))
				}
			default:
				errs = append(errs, fmt.Sprintf("%s.condition: %q is not START or HEALTHY", df, d.Condition))
			}
		}
	}
	if len(errs) == 0 {
		if _, err := startOrder(cs); err != nil {
			errs = append(errs, "containers: "+err.Error())
		}
	}
	return errs
}

// startOrder returns container indexes so that each comes after what it
// depends on, keeping definition order otherwise.
func startOrder(cs []ContainerConfig) ([]int, error) {
	index := map[string]int{}
	for i, c := range cs {
		index[c.Name] = i
	}
	done := make([]bool, len(cs))
	var order []int
	for len(order) < len(cs) {
		progress := false
		for i, c := range cs {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range c.DependsOn {
				if j, ok := index[d.ContainerName]; ok && !done[j] {
					ready = false
				}
			}
			if ready {
				done[i] = true
				order = append(order, i)
				progress = true
				break // restart from the first: definition order wins ties
			}
		}
		if !progress {
			var cyc []string
			for i, c := range cs {
				if !done[i] {
					cyc = append(cyc, c.Name)
				}
			}
			return nil, fmt.Errorf("dependsOn has a cycle among %s", strings.Join(cyc, ", "))
		}
	}
	return order, nil
}
