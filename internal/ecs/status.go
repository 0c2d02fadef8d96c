package ecs

import "time"

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

// Stopped reasons.
const (
	ReasonEssentialExited = "Essential container in task exited"
	ReasonHealthCheck     = "Task failed container health checks"
	ReasonELBHealthCheck  = "Task failed ELB health checks"
	ReasonScaling         = "Scaling activity"
	ReasonDeployment      = "Deployment"
	ReasonShutdown        = "Service shutdown: portway is stopping"
	ReasonUserStop        = "Task stopped by user"
	// Prefixes; the error follows.
	ReasonCannotStart    = "CannotStartContainerError"
	ReasonResourceInit   = "ResourceInitializationError"
	ReasonRegisterFailed = "Task failed to register with target group"
	ReasonDependency     = "DependencyError"
)

// TaskStatus is a snapshot of one task, shaped like ECS DescribeTasks.
type TaskStatus struct {
	TaskID        string            `json:"taskId"`
	Service       string            `json:"service"`
	DeploymentID  string            `json:"deploymentId"` // the deployment that started it (ECS startedBy)
	LastStatus    string            `json:"lastStatus"`
	DesiredStatus string            `json:"desiredStatus"`
	IP            string            `json:"ip"`
	Containers    []ContainerStatus `json:"containers"`
	StoppedReason string            `json:"stoppedReason"`
	CreatedAt     time.Time         `json:"createdAt"`
	StartedAt     *time.Time        `json:"startedAt"` // when the task reached RUNNING
	StoppedAt     *time.Time        `json:"stoppedAt"`
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
