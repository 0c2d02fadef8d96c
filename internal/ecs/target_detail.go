package ecs

import (
	"context"
	"fmt"
	"strings"
)

// TargetHealthDescriber is implemented by a Registrar that can say why a
// target is not healthy: the load balancer's description and its last
// health check ("unhealthy: Health checks failed with these codes: [500];
// last check bad_status (HTTP 500) in 1.2ms"). A task stopped for failing
// ELB health checks keeps it (TaskStatus.TargetHealth), and its service
// event and log line carry it, so that a failed deployment tells why.
type TargetHealthDescriber interface {
	TargetHealthDetail(ctx context.Context, group, ip string, port int) string
}

// targetHealthDetail asks the registrar about t's target ("" when it
// cannot tell).
func (s *Supervisor) targetHealthDetail(t *task) string {
	d, ok := s.cfg.Registrar.(TargetHealthDescriber)
	if !ok || t.cfg.TargetGroup == "" {
		return ""
	}
	return d.TargetHealthDetail(s.ctx, t.cfg.TargetGroup, t.ip.String(), t.cfg.ContainerPort)
}

// failELBHealth stops t for failing its ELB health checks (what: the log
// message), keeping the load balancer's last word on its target.
func (s *Supervisor) failELBHealth(t *task, what, state string) {
	detail := s.targetHealthDetail(t)
	s.log.Warn(what, "task", t.id, "service", t.cfg.Name, "targetGroup", t.cfg.TargetGroup, "ip", t.ip.String(),
		"state", state, "targetHealth", detail)
	s.mu.Lock()
	if t.targetHealth == "" {
		t.targetHealth = detail
	}
	s.mu.Unlock()
	s.requestStop(t, StopCodeServiceScheduler, s.elbHealthReason(t), true)
}

// stoppedEvent is the service event of a failed task: its stoppedReason,
// and the target's health when the load balancer told it.
func stoppedEvent(t *task) string {
	msg := fmt.Sprintf("(service %s) (task %s) stopped: %s", t.svc.name, t.id, strings.TrimSuffix(t.stoppedReason, "."))
	if t.targetHealth != "" {
		msg += " (target " + strings.TrimSuffix(t.targetHealth, ".") + ")"
	}
	return msg + "."
}
