package ecs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Runtime starts containers. The default runs each container as a local
// child process; a container runtime (docker, podman) could implement it too.
type Runtime interface {
	Start(spec ContainerSpec) (Process, error)
}

// ContainerSpec is everything a runtime needs to start one container.
type ContainerSpec struct {
	TaskID string
	Name   string
	Path   string   // executable
	Args   []string // arguments (not including argv[0])
	Env    []string // full environment
	Output io.Writer
	// OwnPIDNamespace asks for a PID namespace of the container's own
	// where the runtime can (ProcessRuntime: on Linux, as root), so that
	// whatever it forks dies with it. The container must handle SIGTERM
	// (or its StopSignal) itself: as PID 1 it has no default actions.
	OwnPIDNamespace bool
	// Image is set for an image container, started by the task's
	// TaskSandbox (image.go); Path and Args are then unused.
	Image *ImageSpec
}

// Process is a started container.
type Process interface {
	PID() int
	// Signal delivers sig to the container (its whole process group).
	// It returns os.ErrProcessDone once the container has exited.
	Signal(sig syscall.Signal) error
	// Wait blocks until the container exits and returns its exit code
	// (128+signal when killed by a signal, as docker reports it). The
	// supervisor calls it exactly once.
	Wait() (exitCode int, err error)
}

// ProcessRuntime runs containers as child processes of portway, each in its
// own process group (so Ctrl-C on the terminal reaches only portway, which
// stops them in order) and, on Linux, with a parent-death signal of SIGKILL
// (so none outlives portway, even after kill -9).
type ProcessRuntime struct {
	// WaitDelay bounds how long Wait drains the output pipe after the
	// container exited and its process group was killed. Default 2s.
	WaitDelay time.Duration
}

// Start implements Runtime.
func (r ProcessRuntime) Start(spec ContainerSpec) (Process, error) {
	out := spec.Output
	if out == nil {
		out = io.Discard
	}
	// Own the pipe (rather than handing exec a plain io.Writer) so that Wait
	// can kill the process group as soon as the leader exits, before the
	// output is drained: a grandchild holding the pipe cannot delay it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = pw
	cmd.Stderr = pw // one pipe: stdout and stderr interleaved in order
	cmd.SysProcAttr = sysProcAttr()
	if spec.OwnPIDNamespace {
		ownPIDNamespace(cmd.SysProcAttr)
	}
	err = cmd.Start()
	pw.Close() // the child has its copy
	if err != nil {
		pr.Close()
		return nil, err
	}
	p := &osProcess{cmd: cmd, pid: cmd.Process.Pid, out: pr, copied: make(chan struct{}), waitDelay: r.WaitDelay}
	if p.waitDelay == 0 {
		p.waitDelay = 2 * time.Second
	}
	go func() {
		defer close(p.copied)
		_, _ = io.Copy(out, pr)
	}()
	return p, nil
}

type osProcess struct {
	cmd       *exec.Cmd
	pid       int
	out       *os.File      // read end of the output pipe
	copied    chan struct{} // closed when output copying ends
	waitDelay time.Duration

	mu     sync.Mutex
	exited bool
}

func (p *osProcess) PID() int { return p.pid }

func (p *osProcess) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	// The child leads its own group (Setpgid), so -pid is the group.
	if err := syscall.Kill(-p.pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return p.cmd.Process.Signal(sig)
		}
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.pid, err)
	}
	return nil
}

func (p *osProcess) Wait() (int, error) {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	// Like a container's PID namespace going away: whatever the container
	// left behind in its process group dies with it.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.mu.Unlock()

	// Drain the remaining output; give up after waitDelay if something
	// outside the group still holds the pipe.
	timer := time.NewTimer(p.waitDelay)
	select {
	case <-p.copied:
	case <-timer.C:
	}
	timer.Stop()
	p.out.Close()
	<-p.copied

	st := p.cmd.ProcessState
	if st == nil {
		return -1, err
	}
	code := st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return code, err
	}
	return code, nil
}
