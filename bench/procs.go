package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is a child process the harness started, in a process group of its own
// (so a terminal's Ctrl-C reaches only the harness, which then stops it).
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	done    chan struct{}
	err     error
}

// PID is the process id, which is also its process group id.
func (p *proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// procSet starts processes and stops every one of them, by process group, at
// the end.
type procSet struct {
	dir string // logs go to <dir>/<name>.log
	log *slog.Logger

	mu    sync.Mutex
	procs []*proc
}

// start runs argv with output to <dir>/<name>.log.
func (s *procSet) start(name string, argv []string, env []string) (*proc, error) {
	logPath := filepath.Join(s.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Own process group; SIGKILL if the harness dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	s.log.Debug("started", "name", name, "pid", p.PID())
	return p, nil
}

// stop sends sig to p's process group and waits up to grace for p to exit;
// then it SIGKILLs the group and every descendant of p still alive (children
// that made groups of their own, like portway's tasks). Descendants are
// collected before the first signal, while they are still p's children.
func (s *procSet) stop(p *proc, sig syscall.Signal, grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	var tree []int
	if stats, err := allStats("/proc"); err == nil {
		tree = treeOf(stats, p.PID())
	}
	_ = syscall.Kill(-p.PID(), sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		s.log.Warn("did not stop in time; killing", "name", p.name, "pid", p.PID(), "grace", grace)
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	for _, pid := range tree {
		if pid != p.PID() && alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) still running after SIGKILL", p.name, p.PID())
	}
}

// stopAll stops every process, concurrently, portway up with SIGTERM (it
// drains its tasks) and the others with SIGTERM too (nginx and HAProxy exit
// at once on it).
func (s *procSet) stopAll() error {
	s.mu.Lock()
	ps := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(ps))
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.stop(p, syscall.SIGTERM, 60*time.Second)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := readStat("/proc", pid)
	return err == nil && st.State != "Z"
}

// waitFor polls cond every interval until it returns true, p exits (if p is
// not nil), ctx ends, or timeout passes.
func waitFor(ctx context.Context, what string, p *proc, timeout, interval time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		if p != nil && p.Exited() {
			return fmt.Errorf("%s: %s exited (%v); see %s", what, p.name, p.err, p.logPath)
		}
		if time.Now().After(deadline) {
			if p != nil {
				return fmt.Errorf("%s: not after %s; see %s", what, timeout, p.logPath)
			}
			return fmt.Errorf("%s: not after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
