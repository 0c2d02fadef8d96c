package ecs

import (
	"fmt"
	"time"
)

// Task lifecycle states (lastStatus / desiredStatus), as in ECS.
const (
	StatusProvisioning = "PROVISIONING"
	StatusPending      = "PENDING"
	StatusActivating   = "ACTIVATING"
	StatusRunning      = "RUNNING"
	StatusDeactivating = "DEACTIVATING"
	StatusStopping     = "STOPPING"
	StatusStopped      = "STOPPED"
)

// Stopped reasons, worded as ECS words them. Two name what stopped the
// task: "Task failed ELB health checks in (target-group ARN)" (the target
// group's ARN, or its name when the registrar cannot tell it) and "Scaling
// activity initiated by (deployment ecs-svc/…)" (the deployment the task
// belongs to, whose desired count shrank: a scale-in, or a newer deployment
// replacing its tasks); see elbHealthReason and scalingReason.
const (
	ReasonEssentialExited = "Essential container in task exited"
	ReasonHealthCheck     = "Task failed container health checks"
	ReasonELBHealthCheck  = "Task failed ELB health checks in" // + " (target-group ARN)"
	ReasonScaling         = "Scaling activity initiated by"    // + " (deployment ID)"
	ReasonShutdown        = "Service shutdown: portway is stopping"
	ReasonUserStop        = "Task stopped by user"
	// Prefixes; the error follows.
	ReasonCannotStart    = "CannotStartContainerError"
	ReasonResourceInit   = "ResourceInitializationError"
	ReasonRegisterFailed = "Task failed to register with target group"
	ReasonDependency     = "DependencyError"
)

// Stop codes (ECS Task.stopCode): why a task stopped, coarser than its
// stoppedReason. ECS's values are TaskFailedToStart,
// EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated,
// SpotInterruption and TerminationNotice (ECS API Reference,
// TaskStopCode); portway has no spot capacity nor host terminations, so
// it uses the first four.
const (
	StopCodeFailedToStart    = "TaskFailedToStart"
	StopCodeEssentialExited  = "EssentialContainerExited"
	StopCodeUserInitiated    = "UserInitiated"
	StopCodeServiceScheduler = "ServiceSchedulerInitiated"
)

// scalingReason is the stoppedReason of a task its service stops: ECS's
// "Scaling activity initiated by (deployment ecs-svc/8646900195280463695)",
// naming the task's own deployment.
func scalingReason(d *deployment) string {
	return fmt.Sprintf("%s (deployment %s)", ReasonScaling, d.id)
}

// elbHealthReason is the stoppedReason of a task whose target failed its
// group's health checks: "Task failed ELB health checks in (target-group
// arn:aws:elasticloadbalancing:…:targetgroup/NAME/ID)".
func elbHealthReason(group string) string {
	return fmt.Sprintf("%s (target-group %s)", ReasonELBHealthCheck, group)
}

// TaskStatus is a snapshot of one task, shaped like ECS DescribeTasks.
type TaskStatus struct {
	// TaskDefinitionRevision is the revision of its service's task
	// definition the task runs (its deployment's).
	TaskDefinitionRevision int `json:"taskDefinitionRevision"`

	TaskID        string            `json:"taskId"`
	Service       string            `json:"service"`
	DeploymentID  string            `json:"deploymentId"` // the deployment that started it (ECS startedBy)
	LastStatus    string            `json:"lastStatus"`
	DesiredStatus string            `json:"desiredStatus"`
	IP            string            `json:"ip"`
	Containers    []ContainerStatus `json:"containers"`
	StoppedReason string            `json:"stoppedReason"`
	StopCode      string            `json:"stopCode,omitempty"` // set once desiredStatus is STOPPED
	// TargetHealth is the load balancer's word on the task's target when
	// the task failed ELB health checks (a portway addition): state,
	// description and last check.
	TargetHealth string     `json:"targetHealth,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	StartedAt    *time.Time `json:"startedAt"` // when the task reached RUNNING
	StoppedAt    *time.Time `json:"stoppedAt"`
}

// ContainerStatus is one container of a TaskStatus.
type ContainerStatus struct {
	Name       string `json:"name"`
	PID        int    `json:"pid"` // 0 until started
	LastStatus string `json:"lastStatus"`
	ExitCode   *int   `json:"exitCode"` // null until exited; 128+signal when killed
	Reason     string `json:"reason,omitempty"`
	// HealthStatus is UNKNOWN, HEALTHY or UNHEALTHY for a container with a
	// health check, else absent.
	HealthStatus string `json:"healthStatus,omitempty"`
	// PortMappings are the container's declared ports (protocol filled
	// in), bound on the task's IP (awsvpc: host port = container port).
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}
