package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// The watchdog removes a run's containers when its `portway up` dies
// without removing them itself (kill -9, a crash): Docker has no notion of
// a parent process, so the containers would run on. It is a child process
// of portway (`portway docker-reaper`) in a process group of its own (so
// Ctrl-C on the terminal does not reach it) that waits for its stdin,
// the read end of a pipe whose only writer is `portway up`, to reach EOF,
// which happens however `up` ends, and then removes every container
// labelled with the run's ID. A later `up` of the same state dir removes
// what even the watchdog left (Engine.Start).

// Watchdog runs the reaper process for one run.
type Watchdog struct {
	// Command is the reaper's command line: portway's binary and
	// ReaperArgs.
	Command []string

	cmd  *exec.Cmd
	pipe *os.File // write end; closing it starts the reaping
	done chan struct{}
}

// ReaperArgs are the arguments of `portway docker-reaper` for cfg's run.
func ReaperArgs(cfg Config) []string {
	args := []string{"docker-reaper", "--state-dir", cfg.StateDir, "--run", cfg.RunID}
	if cfg.Host != "" {
		args = append(args, "--host", cfg.Host)
	}
	return args
}

// Start starts the reaper process.
func (w *Watchdog) Start(context.Context) error {
	if len(w.Command) == 0 {
		return errors.New("docker: watchdog: no command")
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("docker: watchdog: %w", err)
	}
	cmd := exec.Command(w.Command[0], w.Command[1:]...)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		pw.Close()
		return fmt.Errorf("docker: watchdog: start %s: %w", w.Command[0], err)
	}
	r.Close() // the reaper has its copy; portway keeps only the write end
	w.cmd, w.pipe, w.done = cmd, pw, make(chan struct{})
	go func() { _ = cmd.Wait(); close(w.done) }()
	return nil
}

// Stop closes the pipe (the reaper then removes whatever of the run is
// left, normally nothing) and waits for the reaper to exit.
func (w *Watchdog) Stop(ctx context.Context) error {
	if w.cmd == nil {
		return nil
	}
	w.pipe.Close()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		_ = w.cmd.Process.Kill()
		<-w.done
		return fmt.Errorf("docker: watchdog: %w", ctx.Err())
	}
}

// Reap is the reaper's work: wait until in reaches EOF, then remove the
// run's containers. It reports how many it removed.
func Reap(ctx context.Context, in io.Reader, host, stateDir, runID string) (int, error) {
	if stateDir == "" || runID == "" {
		return 0, errors.New("state dir and run ID are required")
	}
	_, _ = io.Copy(io.Discard, in)
	cli, err := NewClient(host)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := filters.NewArgs(filters.Arg("label", LabelStack+"="+stateDir), filters.Arg("label", LabelRun+"="+runID))
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, c := range list {
		errs = append(errs, removeForce(ctx, cli, c.ID))
	}
	return len(list), errors.Join(errs...)
}
