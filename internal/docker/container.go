package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/portway/portway/internal/ecs"
)

// outputDrain bounds how long Wait keeps copying a container's output
// after it exited.
const outputDrain = 2 * time.Second

// Start implements ecs.Runtime for the task's image containers: create
// the container in the task's network namespace, attach to its output,
// then start it.
func (sb *sandbox) Start(spec ecs.ContainerSpec) (ecs.Process, error) {
	is := spec.Image
	if is == nil {
		return nil, errors.New("docker: not an image container")
	}
	e := sb.e
	ctx, cancel := context.WithTimeout(e.ctx, apiTimeout)
	defer cancel()

	cfg := &container.Config{
		Image:        is.Image,
		Entrypoint:   is.EntryPoint,
		Cmd:          is.Cmd,
		Env:          spec.Env,
		WorkingDir:   is.WorkingDirectory,
		User:         is.User,
		Labels:       e.labels(is.Service, spec.TaskID, spec.Name, RoleApp),
		AttachStdout: true,
		AttachStderr: true,
	}
	if is.StopSignal != 0 {
		cfg.StopSignal = signalName(is.StopSignal)
	}
	if is.StopTimeout > 0 {
		secs := int((is.StopTimeout + time.Second - 1) / time.Second)
		cfg.StopTimeout = &secs
	}
	host := &container.HostConfig{
		NetworkMode:    container.NetworkMode("container:" + sb.pauseID),
		ReadonlyRootfs: is.ReadonlyRootFilesystem,
		// Docker's own copy of the output stays small: portway keeps the
		// log (the task's capped log files).
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "1"}},
		Resources: resources(is),
	}
	created, err := e.cli.ContainerCreate(ctx, cfg, host, nil, nil, containerName(is.Service, spec.TaskID, spec.Name))
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	sb.mu.Lock()
	sb.containers = append(sb.containers, created.ID)
	sb.mu.Unlock()
	fail := func(err error) (ecs.Process, error) {
		_ = removeForce(ctx, e.cli, created.ID)
		return nil, err
	}

	out := spec.Output
	if out == nil {
		out = io.Discard
	}
	att, err := e.cli.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return fail(fmt.Errorf("attach to container: %w", err))
	}
	p := &process{cli: e.cli, id: created.ID, att: &att, copied: make(chan struct{})}
	go func() {
		defer close(p.copied)
		// One writer for both streams, in the order they arrive.
		_, _ = stdcopy.StdCopy(out, out, att.Reader)
	}()
	// Register the wait before the start, so a quick exit is not missed.
	p.waitCtx, p.waitCancel = context.WithCancel(e.ctx)
	p.waitC, p.errC = e.cli.ContainerWait(p.waitCtx, created.ID, container.WaitConditionNextExit)
	if err := e.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		p.waitCancel()
		att.Close()
		<-p.copied
		return fail(fmt.Errorf("start container: %w", err))
	}
	if info, err := e.cli.ContainerInspect(ctx, created.ID); err == nil {
		if info.State != nil {
			p.pid = info.State.Pid
		}
		if info.Config != nil {
			p.stopSignal = info.Config.StopSignal // the image's STOPSIGNAL, or ours
		}
	}
	return p, nil
}

// resources are the container's limits: memory (hard) and
// memoryReservation (soft) in MiB, cpu units as CPU shares (a relative
// weight, as the ECS agent sets them; 1024 = one CPU's share), ulimits.
func resources(is *ecs.ImageSpec) container.Resources {
	var r container.Resources
	r.Memory = int64(is.MemoryMiB) << 20
	r.MemoryReservation = int64(is.MemoryReservationMiB) << 20
	if is.CPUUnits > 0 {
		r.CPUShares = int64(max(is.CPUUnits, 2)) // the kernel's minimum weight
	}
	for _, u := range is.Ulimits {
		r.Ulimits = append(r.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.SoftLimit, Hard: u.HardLimit})
	}
	return r
}

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGUSR1:
		return "SIGUSR1"
	case syscall.SIGUSR2:
		return "SIGUSR2"
	default:
		return "SIGTERM"
	}
}

// process is a started image container (ecs.Process and ecs.Execer).
type process struct {
	cli        *client.Client
	id         string
	pid        int
	att        interface{ Close() }
	copied     chan struct{} // closed when output copying ends
	stopSignal string        // what SIGTERM becomes (e.g. nginx's SIGQUIT); "" for SIGTERM
	waitCtx    context.Context
	waitCancel context.CancelFunc
	waitC      <-chan container.WaitResponse
	errC       <-chan error

	mu     sync.Mutex
	exited bool
}

var (
	_ ecs.Process = (*process)(nil)
	_ ecs.Execer  = (*process)(nil)
)

// ID is the Docker container ID.
func (p *process) ID() string { return p.id }

func (p *process) PID() int { return p.pid }

// Signal implements ecs.Process: docker kill with sig; SIGTERM, the
// supervisor's stop request, becomes the container's stop signal, as with
// `docker stop`.
func (p *process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited {
		return os.ErrProcessDone
	}
	name := signalName(sig)
	if sig == syscall.SIGTERM && p.stopSignal != "" {
		name = p.stopSignal
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	if err := p.cli.ContainerKill(ctx, p.id, name); err != nil {
		if client.IsErrNotFound(err) || strings.Contains(err.Error(), "is not running") {
			return os.ErrProcessDone
		}
		return fmt.Errorf("signal %v to container %.12s: %w", sig, p.id, err)
	}
	return nil
}

// Wait implements ecs.Process: it waits for the container to exit,
// drains its output and removes it. The exit code is Docker's (128+signal
// when killed by one).
func (p *process) Wait() (int, error) {
	code, err := -1, error(nil)
	select {
	case r := <-p.waitC:
		code = int(r.StatusCode)
		if r.Error != nil && r.Error.Message != "" {
			err = errors.New(r.Error.Message)
		}
	case werr := <-p.errC:
		err = fmt.Errorf("wait for container %.12s: %w", p.id, werr)
		// The wait broke (the engine restarted, or portway is
		// stopping): make sure the container is gone, then read what
		// Docker knows of its exit.
		ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		if info, ierr := p.cli.ContainerInspect(ctx, p.id); ierr == nil && info.State != nil && !info.State.Running {
			code, err = info.State.ExitCode, nil
		} else {
			_ = p.cli.ContainerKill(ctx, p.id, "SIGKILL")
			code = 128 + int(syscall.SIGKILL)
		}
		cancel()
	}
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
	p.waitCancel()

	timer := time.NewTimer(outputDrain)
	select {
	case <-p.copied:
	case <-timer.C:
	}
	timer.Stop()
	p.att.Close()
	<-p.copied
	_ = removeForce(context.Background(), p.cli, p.id)
	return code, err
}

// maxExecOutput bounds what Exec keeps of a command's output.
const maxExecOutput = 4 << 10

// Exec implements ecs.Execer: docker exec of cmd in the container.
func (p *process) Exec(ctx context.Context, cmd []string) (int, string, error) {
	ex, err := p.cli.ContainerExecCreate(ctx, p.id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, "", fmt.Errorf("exec in container: %w", err)
	}
	att, err := p.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, "", fmt.Errorf("exec in container: %w", err)
	}
	done := make(chan struct{})
	var out limitedBuffer
	go func() {
		defer close(done)
		_, _ = stdcopy.StdCopy(&out, &out, att.Reader)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	att.Close()
	<-done
	if ctx.Err() != nil {
		return -1, out.String(), ctx.Err()
	}
	info, err := p.cli.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return -1, out.String(), fmt.Errorf("exec in container: %w", err)
	}
	return info.ExitCode, out.String(), nil
}

// limitedBuffer keeps the first maxExecOutput bytes written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxExecOutput - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return l.b.String() }
