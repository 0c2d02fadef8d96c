package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// deployTask is what `deploy --wait` reads of a task (ecs.TaskStatus).
type deployTask struct {
	TaskID        string `json:"taskId"`
	Service       string `json:"service"`
	DeploymentID  string `json:"deploymentId"`
	LastStatus    string `json:"lastStatus"`
	IP            string `json:"ip"`
	StoppedReason string `json:"stoppedReason"`
	StopCode      string `json:"stopCode"`
	TargetHealth  string `json:"targetHealth"`
	Containers    []struct {
		PortMappings []struct {
			ContainerPort int `json:"containerPort"`
		} `json:"portMappings"`
	} `json:"containers"`
}

// deploySource is what `deploy --wait` polls: the control API, or a fake.
type deploySource interface {
	service(ctx context.Context) (serviceStatus, error)
	tasks(ctx context.Context) ([]deployTask, error)
	// targets maps "ip" to the targets registered on that address (a
	// task's targets), with their health.
	targets(ctx context.Context) (map[string][]targetHealth, error)
}

// controlDeploySource reads a running stack's control API.
type controlDeploySource struct{ stateDir, name string }

func (c controlDeploySource) service(ctx context.Context) (serviceStatus, error) {
	var st serviceStatus
	err := controlGet(ctx, c.stateDir, "/ecs/services/"+url.PathEscape(c.name), &st)
	return st, err
}

func (c controlDeploySource) tasks(ctx context.Context) ([]deployTask, error) {
	var tl struct {
		Tasks []deployTask `json:"tasks"`
	}
	err := controlGet(ctx, c.stateDir, "/ecs/tasks?service="+url.QueryEscape(c.name), &tl)
	return tl.Tasks, err
}

func (c controlDeploySource) targets(ctx context.Context) (map[string][]targetHealth, error) {
	var groups struct {
		TargetGroups []describedGroup `json:"TargetGroups"`
	}
	if err := controlGet(ctx, c.stateDir, "/elbv2/DescribeTargetGroups", &groups); err != nil {
		return nil, err
	}
	out := map[string][]targetHealth{}
	for _, g := range groups.TargetGroups {
		var th struct {
			TargetHealthDescriptions []targetHealth `json:"TargetHealthDescriptions"`
		}
		if err := controlGet(ctx, c.stateDir, "/elbv2/DescribeTargetHealth?TargetGroupName="+url.QueryEscape(g.TargetGroupName), &th); err != nil {
			return nil, err
		}
		for _, t := range th.TargetHealthDescriptions {
			out[t.Target.ID] = append(out[t.Target.ID], t)
		}
	}
	return out, nil
}

// deployWatch follows one deployment and prints a line per change: tasks
// started, their status and target health, old tasks drained and
// stopped, tasks that failed and why, the rollout state.
type deployWatch struct {
	src     deploySource
	out     io.Writer
	name    string
	id      string        // the deployment followed
	every   time.Duration // poll interval
	seen    map[string]string
	failed  []string // why the deployment's tasks failed, latest last
	pending []string // what was not done at the last poll: new tasks first
	oldLeft []string // old tasks not yet stopped, at the last poll
}

// run polls until the deployment completes (nil), fails or is superseded
// (an error naming why), or timeout passes (an error naming what is
// pending).
func (w *deployWatch) run(ctx context.Context, timeout time.Duration) error {
	if w.seen == nil {
		w.seen = map[string]string{}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		done, err := w.poll(ctx)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%s: deployment %s not complete after %s", w.name, w.id, timeout)
			if len(w.pending) > 0 {
				msg += "; pending: " + strings.Join(w.pending, "; ")
			}
			if n := len(w.failed); n > 0 {
				msg += "; last failure: " + w.failed[n-1]
			}
			return errors.New(msg)
		case <-tick.C:
		}
	}
}

// note prints line when key's value changed.
func (w *deployWatch) note(key, value, line string) {
	if w.seen[key] == value {
		return
	}
	w.seen[key] = value
	fmt.Fprintf(w.out, "%s: %s\n", w.name, line)
}

// poll reads the service once; done when the deployment completed.
func (w *deployWatch) poll(ctx context.Context) (done bool, err error) {
	st, err := w.src.service(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, err
	}
	tasks, err := w.src.tasks(ctx)
	if err != nil && ctx.Err() == nil {
		return false, err
	}
	targets, err := w.src.targets(ctx)
	if err != nil && ctx.Err() == nil {
		return false, err
	}
	w.pending, w.oldLeft = w.pending[:0], w.oldLeft[:0]
	for _, t := range tasks {
		w.task(t, targets[t.IP])
	}
	w.pending = append(w.pending, w.oldLeft...)
	for _, d := range st.Deployments {
		line := "deployment " + d.ID + " " + strings.ToLower(d.RolloutState)
		if d.RolloutState != "IN_PROGRESS" || d.FailedTasks > 0 {
			line += fmt.Sprintf(" (%d/%d running", d.RunningCount, d.DesiredCount)
			if d.FailedTasks > 0 {
				line += fmt.Sprintf(", %d failed tasks", d.FailedTasks)
			}
			line += ")"
		}
		if strings.HasPrefix(d.RolloutStateReason, "ECS deployment circuit breaker") {
			line += ": " + d.RolloutStateReason
		}
		w.note("deployment "+d.ID, line, line)
	}
	if why := st.failed(w.id); why != "" {
		if n := len(w.failed); n > 0 {
			why += "; last task failure: " + w.failed[n-1]
		}
		return true, errors.New(why)
	}
	if len(st.Deployments) > 0 && st.Deployments[0].ID != w.id {
		return true, fmt.Errorf("%s: deployment %s was superseded by %s", st.Name, w.id, st.Deployments[0].ID)
	}
	if st.done() {
		fmt.Fprintf(w.out, "%s: deployment %s completed: %d tasks running\n", st.Name, w.id, st.RunningCount)
		return true, nil
	}
	return false, nil
}

// task prints what changed about one task and notes what is pending.
func (w *deployWatch) task(t deployTask, targets []targetHealth) {
	short := t.TaskID
	if len(short) > 12 {
		short = short[:12]
	}
	isNew := t.DeploymentID == w.id
	kind := "old task"
	if isNew {
		kind = "new task"
	}
	ports := t.ports()
	var ths []targetHealth
	for _, th := range targets {
		// A stopped task's address may be a newer task's now.
		if t.LastStatus == "STOPPED" {
			break
		}
		if len(ports) == 0 || slices.Contains(ports, th.Target.Port) {
			ths = append(ths, th)
		}
	}
	status := t.LastStatus
	line := fmt.Sprintf("%s %s (%s) %s", kind, short, t.IP, status)
	if status == "STOPPED" || t.StoppedReason != "" {
		line = fmt.Sprintf("%s %s (%s) %s: %s", kind, short, t.IP, strings.ToLower(status), t.StoppedReason)
		if t.TargetHealth != "" {
			line += " (target " + t.TargetHealth + ")"
		}
	}
	if _, known := w.seen["task "+t.TaskID]; !known && status == "STOPPED" && !isNew {
		w.seen["task "+t.TaskID] = line // stopped before the deployment: not news
	}
	w.note("task "+t.TaskID, line, line)
	if isNew && t.StopCode != "" && t.StopCode != "UserInitiated" {
		reason := t.StoppedReason
		if t.TargetHealth != "" {
			reason += " (target " + t.TargetHealth + ")"
		}
		if !slices.Contains(w.failed, reason) {
			w.failed = append(w.failed, reason)
		}
	}
	for _, th := range ths {
		addr := th.Target.ID + ":" + strconv.Itoa(th.Target.Port)
		key := th.TargetHealth.State + th.TargetHealth.Description
		detail := th.TargetHealth.State
		if th.TargetHealth.Description != "" {
			detail += ": " + th.TargetHealth.Description
		}
		if c := th.LastHealthCheck; c != nil && th.TargetHealth.State != "healthy" {
			key += c.Result + strconv.Itoa(c.StatusCode)
			detail += "; last check " + c.Summary()
		}
		w.note("target "+t.TaskID+addr, key, fmt.Sprintf("%s %s target %s %s", kind, short, addr, detail))
		if isNew && th.TargetHealth.State != "healthy" {
			w.pending = append(w.pending, fmt.Sprintf("task %s target %s %s", short, addr, detail))
		}
	}
	if isNew && len(ths) == 0 && status != "RUNNING" && status != "STOPPED" {
		w.pending = append(w.pending, fmt.Sprintf("task %s %s", short, status))
	}
	if !isNew && status != "STOPPED" {
		w.oldLeft = append(w.oldLeft, fmt.Sprintf("old task %s %s", short, status))
	}
}

func (t deployTask) ports() []int {
	var out []int
	for _, c := range t.Containers {
		for _, p := range c.PortMappings {
			out = append(out, p.ContainerPort)
		}
	}
	return out
}
