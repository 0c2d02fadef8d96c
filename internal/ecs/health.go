package ecs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// secretEnv reads the container's secrets into KEY=VALUE entries.
func secretEnv(secrets []Secret, repl *strings.Replacer) ([]string, error) {
	var env []string
	for _, sec := range secrets {
		path := repl.Replace(sec.ValueFrom)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("unable to retrieve secret %s from %s: %w", sec.Name, filepath.Clean(path), err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		env = append(env, sec.Name+"="+string(b))
	}
	return env, nil
}

// runHealthCheck runs a container's health check until the container
// exits or the task is stopping, keeping c.health up to date; an essential
// container that turns UNHEALTHY stops the task.
func (s *Supervisor) runHealthCheck(t *task, c *container, hc HealthCheck, env []string, repl *strings.Replacer) {
	defer s.wg.Done()
	hc = hc.withDefaults()
	args := make([]string, len(hc.Command))
	for i, a := range hc.Command {
		args[i] = repl.Replace(a)
	}
	started := s.clock.Now()
	failures, passed := 0, false
	timer := s.clock.NewTimer(0) // first check at once, as docker does after start
	defer timer.Stop()
	for {
		select {
		case <-c.exited:
			return
		case <-t.stopReq:
			return
		case <-timer.C():
		}
		var err error
		if e, ok := c.proc.(Execer); ok {
			err = execHealthCommand(s.ctx, e, args, hc.Timeout) // inside the container (image.go)
		} else {
			err = s.healthCommand(args, env, hc.Timeout)
		}
		s.mu.Lock()
		switch {
		case err == nil:
			failures, passed = 0, true
			c.health = HealthHealthy
			select {
			case <-c.healthy:
			default:
				close(c.healthy) // the first success
			}
		case s.clock.Now().Sub(started) < hc.StartPeriod && !passed:
			// failures in the start period do not count, until a first success ends it
		default:
			failures++
			if failures >= hc.Retries {
				c.health = HealthUnhealthy
			}
		}
		health := c.health
		s.mu.Unlock()
		if err != nil {
			s.log.Debug("container health check failed", "task", t.id, "container", c.cfg.Name, "failures", failures, "err", err)
		}
		if health == HealthUnhealthy {
			s.log.Warn("container unhealthy", "task", t.id, "service", t.cfg.Name, "container", c.cfg.Name, "err", err)
			if c.cfg.Essential {
				s.requestStop(t, StopCodeServiceScheduler, ReasonHealthCheck, true)
			}
			// A non-essential container stays UNHEALTHY; keep checking.
		}
		timer.Reset(hc.Interval)
	}
}

// healthCommand runs one health check command: ["CMD", exe, args...] or
// ["CMD-SHELL", command]. It kills the command's whole process group when
// the timeout passes.
func (s *Supervisor) healthCommand(args, env []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	var cmd *exec.Cmd
	if args[0] == "CMD-SHELL" {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", args[1])
	} else {
		cmd = exec.CommandContext(ctx, args[1], args[2:]...)
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("health check timed out after %s", timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return fmt.Errorf("%w: %s", err, msg)
	}
	return nil
}
