package ecs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/portway/portway/internal/taskmeta"
)

// ImageRuntime runs the containers that have an Image (internal/docker
// implements it with the Docker Engine API). Each task with image
// containers gets a sandbox first: its images present and its own network
// namespace (awsvpc), which every image container of the task joins.
type ImageRuntime interface {
	// CreateTask makes the task's sandbox: it pulls the images that are
	// not present (an error wrapping ErrCannotPull when one cannot be) and
	// creates the network namespace with Ports published on IP.
	CreateTask(ctx context.Context, spec TaskSpec) (TaskSandbox, error)
}

// TaskSpec is what an ImageRuntime needs to make a task's sandbox.
type TaskSpec struct {
	TaskID  string
	Service string
	IP      netip.Addr
	Images  []string      // of the task's image containers, in definition order
	Ports   []PortMapping // of the task's image containers: published on IP:containerPort
}

// TaskSandbox is a task's sandbox: Start runs an image container in it.
type TaskSandbox interface {
	Runtime
	// Close removes the sandbox and whatever of it is left; the
	// supervisor calls it once the task's containers have exited.
	Close(ctx context.Context) error
}

// Execer is a Process that runs commands inside its container: an image
// container's health check runs there (as ECS runs it, with docker exec).
type Execer interface {
	// Exec runs cmd in the container and returns its exit code and output.
	Exec(ctx context.Context, cmd []string) (exitCode int, output string, err error)
}

// ErrCannotPull is wrapped by CreateTask's error when an image is neither
// present nor pullable; the task stops with its message as stoppedReason
// ("CannotPullContainerError: …", as ECS words it).
var ErrCannotPull = errors.New(ReasonCannotPull)

// ReasonCannotPull starts the stoppedReason of a task whose image could
// not be pulled.
const ReasonCannotPull = "CannotPullContainerError"

// ImageSpec is the image part of a ContainerSpec (nil for processes).
type ImageSpec struct {
	Service    string
	Image      string
	EntryPoint []string // nil: the image's
	// Cmd replaces the image's CMD; nil keeps it.
	Cmd                    []string
	WorkingDirectory       string
	User                   string
	ReadonlyRootFilesystem bool
	Ulimits                []Ulimit
	MemoryMiB              int
	MemoryReservationMiB   int
	CPUUnits               int
	StopTimeout            time.Duration
	// StopSignal replaces the image's STOPSIGNAL; 0 keeps it. The
	// container's stop signal is what a SIGTERM from the supervisor
	// becomes (as `docker stop` sends it).
	StopSignal syscall.Signal
}

func (c ContainerConfig) isImage() bool { return c.Image != "" }

// hasImages reports whether any container of the definition runs an image.
func hasImages(cs []ContainerConfig) bool {
	for _, c := range cs {
		if c.isImage() {
			return true
		}
	}
	return false
}

// validateImageContainer checks an image container's own fields (and that
// a process container uses none of them); cf names it in errors.
func validateImageContainer(cf string, ct ContainerConfig) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !ct.isImage() {
		switch {
		case ct.EntryPoint != nil:
			add("%s.entryPoint: only with image", cf)
		case ct.WorkingDirectory != "" || ct.User != "" || ct.ReadonlyRootFilesystem:
			add("%s: workingDirectory, user and readonlyRootFilesystem only with image", cf)
		case len(ct.Ulimits) > 0 || ct.Memory != 0 || ct.MemoryReservation != 0 || ct.CPU != 0:
			add("%s: ulimits, memory, memoryReservation and cpu only with image", cf)
		}
		return errs
	}
	if strings.ContainsAny(ct.Image, " \t\n") {
		add("%s.image: %q is not an image reference", cf, ct.Image)
	}
	if ct.Executable != "" {
		add("%s.executable: not allowed with image (the image says what runs)", cf)
	}
	if ct.Engine != EngineProcess {
		add("%s.engine: not allowed with image", cf)
	}
	if ct.Memory < 0 {
		add("%s.memory: must be >= 0 MiB", cf)
	} else if ct.Memory > 0 && ct.Memory < 6 {
		add("%s.memory: %d MiB is below Docker's minimum of 6 MiB", cf, ct.Memory)
	}
	if ct.MemoryReservation < 0 {
		add("%s.memoryReservation: must be >= 0 MiB", cf)
	} else if ct.Memory > 0 && ct.MemoryReservation > ct.Memory {
		add("%s.memoryReservation: %d MiB is above memory (%d MiB)", cf, ct.MemoryReservation, ct.Memory)
	}
	if ct.CPU < 0 || ct.CPU > 10*1024*1024 {
		add("%s.cpu: must be 0..%d CPU units", cf, 10*1024*1024)
	}
	for k, u := range ct.Ulimits {
		uf := fmt.Sprintf("%s.ulimits[%d]", cf, k)
		if !validUlimits[u.Name] {
			add("%s.name: %q is not one of core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack", uf, u.Name)
		}
		if u.SoftLimit < 0 || u.HardLimit < 0 {
			add("%s: softLimit and hardLimit must be >= 0", uf)
		} else if u.SoftLimit > u.HardLimit {
			add("%s.softLimit: %d is above hardLimit %d", uf, u.SoftLimit, u.HardLimit)
		}
	}
	return errs
}

var validUlimits = map[string]bool{
	"core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true, "msgqueue": true,
	"nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true, "rttime": true,
	"sigpending": true, "stack": true,
}

// createSandbox makes the sandbox of a task with image containers (a no-op
// for a task of processes only). It reports whether the task may go on;
// on failure the task is stopping with the reason.
func (s *Supervisor) createSandbox(t *task) bool {
	if !hasImages(t.cfg.Containers) {
		return true
	}
	spec := TaskSpec{TaskID: t.id, Service: t.cfg.Name, IP: t.ip}
	for _, c := range t.cfg.Containers {
		if c.isImage() {
			spec.Images = append(spec.Images, c.Image)
			spec.Ports = append(spec.Ports, c.portMappings()...)
		}
	}
	var err error
	if s.cfg.Images == nil {
		err = errors.New("no container runtime for images (Docker) is configured")
	} else {
		var sb TaskSandbox
		sb, err = s.cfg.Images.CreateTask(s.ctx, spec)
		if err == nil {
			ln := s.metadataListenerIn(t, sb)
			s.mu.Lock()
			t.sandbox, t.metaLn = sb, ln
			s.mu.Unlock()
			return true
		}
	}
	reason := fmt.Sprintf("%s: %v", ReasonResourceInit, err)
	if errors.Is(err, ErrCannotPull) {
		reason = err.Error()
	}
	s.mu.Lock()
	for _, c := range t.containers {
		c.lastStatus, c.reason = StatusStopped, reason
	}
	s.mu.Unlock()
	s.requestStop(t, StopCodeFailedToStart, reason, true)
	return false
}

// removeSandbox removes the task's sandbox once its containers are gone.
func (s *Supervisor) removeSandbox(t *task) {
	s.mu.Lock()
	sb, ln := t.sandbox, t.metaLn
	t.sandbox, t.metaLn = nil, nil
	s.mu.Unlock()
	if ln != nil {
		ln.Close() // it holds the namespace open
	}
	if sb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 30*time.Second)
	defer cancel()
	if err := sb.Close(ctx); err != nil {
		s.log.Warn("remove task sandbox", "task", t.id, "service", t.cfg.Name, "err", err)
	}
}

// imageEnv is an image container's environment: only what its definition
// says (env, environment, secrets) and the documented PORTWAY_TASK_ID,
// PORTWAY_TASK_IP and PORTWAY_CONTAINER; never portway's own environment
// nor ExtraEnv, whose host addresses mean nothing inside the task's
// network namespace.
func imageEnv(t *task, c *container, secrets []string, repl *strings.Replacer) []string {
	env := make([]string, 0, len(c.cfg.Env)+len(secrets)+5)
	for _, e := range c.cfg.Env {
		env = append(env, repl.Replace(e))
	}
	env = append(env, secrets...)
	env = append(env,
		EnvTaskID+"="+t.id,
		EnvTaskIP+"="+t.ip.String(),
		EnvContainer+"="+c.cfg.Name,
	)
	if t.metaLn != nil {
		addr := t.metaLn.Addr().String()
		env = append(env,
			EnvMetadataURIV4+"="+taskmeta.URI(addr, "v4", c.token),
			EnvMetadataURI+"="+taskmeta.URI(addr, "v3", c.token))
	}
	return env
}

// namespaceListener is a sandbox that can open a listener inside the
// task's network namespace (docker: setns into the pause container's).
type namespaceListener interface {
	Listen(network, addr string) (net.Listener, error)
}

// metadataListenerIn opens the task metadata endpoint's listener on
// 127.0.0.1 inside the sandbox's network namespace, where the task's
// containers reach it (their loopback is their own), and serves it. Nil
// when the sandbox cannot (not root): the containers then go without
// ECS_CONTAINER_METADATA_URI_V4, which is logged once.
func (s *Supervisor) metadataListenerIn(t *task, sb TaskSandbox) net.Listener {
	nl, ok := sb.(namespaceListener)
	if !ok {
		return nil
	}
	ln, err := nl.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.metaWarn.Do(func() {
			s.log.Warn("image containers get no task metadata endpoint: cannot listen in their network namespace", "task", t.id, "err", err)
		})
		return nil
	}
	s.meta.Serve(ln)
	return ln
}

// imageSpec is the ImageSpec of image container c of task t.
func imageSpec(t *task, c ContainerConfig, repl *strings.Replacer) *ImageSpec {
	sub := func(in []string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(in))
		for i, a := range in {
			out[i] = repl.Replace(a)
		}
		return out
	}
	return &ImageSpec{
		Service:                t.cfg.Name,
		Image:                  c.Image,
		EntryPoint:             sub(c.EntryPoint),
		Cmd:                    sub(c.Command),
		WorkingDirectory:       c.WorkingDirectory,
		User:                   c.User,
		ReadonlyRootFilesystem: c.ReadonlyRootFilesystem,
		Ulimits:                c.Ulimits,
		MemoryMiB:              c.Memory,
		MemoryReservationMiB:   c.MemoryReservation,
		CPUUnits:               c.CPU,
		StopTimeout:            t.cfg.stopTimeout(c),
	}
}

// execHealthCommand runs an image container's health check inside it:
// ["CMD", exe, args...] as is, ["CMD-SHELL", command] with /bin/sh -c.
func execHealthCommand(ctx context.Context, e Execer, args []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := args[1:]
	if args[0] == "CMD-SHELL" {
		cmd = []string{"/bin/sh", "-c", args[1]}
	}
	code, out, err := e.Exec(ctx, cmd)
	if ctx.Err() != nil {
		return fmt.Errorf("health check timed out after %s", timeout)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		msg := strings.TrimSpace(out)
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return fmt.Errorf("exit status %d: %s", code, msg)
	}
	return nil
}

// startImageContainer starts image container c in the task's sandbox.
func (s *Supervisor) startImageContainer(t *task, c *container, logf *cappedLog, secrets []string, repl *strings.Replacer) error {
	s.mu.Lock()
	sb := t.sandbox
	s.mu.Unlock()
	if sb == nil {
		logf.Close()
		return errors.New("the task has no sandbox for image containers")
	}
	env := imageEnv(t, c, secrets, repl)
	proc, err := sb.Start(ContainerSpec{TaskID: t.id, Name: c.cfg.Name, Env: env, Output: logf, Image: imageSpec(t, c.cfg, repl)})
	if err != nil {
		logf.Close()
		return err
	}
	s.containerStarted(t, c, proc, logf, env, repl)
	return nil
}
