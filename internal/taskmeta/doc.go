// Package taskmeta is portway's ECS task metadata endpoint (version 4, and
// version 3 with the same documents): every task container gets
// ECS_CONTAINER_METADATA_URI_V4, and GET on it returns the container's
// metadata, GET on it + "/task" the task's, shaped as ECS documents them
// for awsvpc tasks on Fargate.
//
// Each container's URI carries a token of its own (NewToken: 128 random
// bits), so a task cannot read another task's metadata by guessing its
// URI. The Server serves one loopback listener of its own (for host
// processes) and any further listener given to Serve (for instance one
// opened inside a task's network namespace); URI computes a container's
// URI from a listener's address and its token.
package taskmeta

import (
	"strconv"
	"time"

	"github.com/portway/portway/internal/awsid"
)

// The cluster every task runs in, and how it runs. Account and region are
// internal/awsid's, as in every other ARN portway reports; the region is
// the stack's (each function takes it).
const (
	Cluster    = "portway"
	LaunchType = "FARGATE"
)

// AvailabilityZone is the zone tasks report in region.
func AvailabilityZone(region string) string { return region + "a" }

// ClusterARN is the ARN of the cluster every task runs in.
func ClusterARN(region string) string { return awsid.ARN("ecs", region, "cluster/"+Cluster) }

// TaskARN is a task's ARN: arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/TASKID.
func TaskARN(region, taskID string) string {
	return awsid.ARN("ecs", region, "task/"+Cluster+"/"+taskID)
}

// TaskDefinitionARN is a task definition's ARN:
// arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION.
func TaskDefinitionARN(region, family string, revision int) string {
	return awsid.ARN("ecs", region, "task-definition/"+family+":"+strconv.Itoa(revision))
}

// ContainerARN is a container's ARN:
// arn:aws:ecs:REGION:ACCOUNT:container/CLUSTER/TASKID/CONTAINERID.
func ContainerARN(region, taskID, containerID string) string {
	return awsid.ARN("ecs", region, "container/"+Cluster+"/"+taskID+"/"+containerID)
}

// Task is the task metadata document (GET ${ECS_CONTAINER_METADATA_URI_V4}/task).
type Task struct {
	Cluster            string      `json:"Cluster"`
	TaskARN            string      `json:"TaskARN"`
	Family             string      `json:"Family"`
	Revision           string      `json:"Revision"` // a string, as ECS reports it
	ServiceName        string      `json:"ServiceName,omitempty"`
	DesiredStatus      string      `json:"DesiredStatus"`
	KnownStatus        string      `json:"KnownStatus"`
	Limits             *Limits     `json:"Limits,omitempty"`
	PullStartedAt      *time.Time  `json:"PullStartedAt,omitempty"`
	PullStoppedAt      *time.Time  `json:"PullStoppedAt,omitempty"`
	ExecutionStoppedAt *time.Time  `json:"ExecutionStoppedAt,omitempty"`
	AvailabilityZone   string      `json:"AvailabilityZone"`
	LaunchType         string      `json:"LaunchType"`
	Containers         []Container `json:"Containers"`
}

// Container is the container metadata document (GET
// ${ECS_CONTAINER_METADATA_URI_V4}), and one entry of Task.Containers.
type Container struct {
	DockerID      string            `json:"DockerId"`
	Name          string            `json:"Name"`
	DockerName    string            `json:"DockerName"`
	Image         string            `json:"Image"`
	ImageID       string            `json:"ImageID"`
	Ports         []Port            `json:"Ports,omitempty"`
	Labels        map[string]string `json:"Labels,omitempty"`
	DesiredStatus string            `json:"DesiredStatus"`
	KnownStatus   string            `json:"KnownStatus"`
	ExitCode      *int              `json:"ExitCode,omitempty"`
	Limits        Limits            `json:"Limits"`
	CreatedAt     *time.Time        `json:"CreatedAt,omitempty"`
	StartedAt     *time.Time        `json:"StartedAt,omitempty"`
	FinishedAt    *time.Time        `json:"FinishedAt,omitempty"`
	Type          string            `json:"Type"` // "NORMAL"
	ContainerARN  string            `json:"ContainerARN"`
	LogDriver     string            `json:"LogDriver,omitempty"`
	LogOptions    map[string]string `json:"LogOptions,omitempty"`
	Health        *Health           `json:"Health,omitempty"`
	Networks      []Network         `json:"Networks"`
}

// Limits are a container's (CPU units, memory MiB) or a task's (vCPUs,
// MiB) resource limits.
type Limits struct {
	CPU    float64 `json:"CPU"`
	Memory int     `json:"Memory,omitempty"`
}

// Port is one of Container.Ports.
type Port struct {
	ContainerPort int    `json:"ContainerPort"`
	Protocol      string `json:"Protocol"`
	HostPort      int    `json:"HostPort,omitempty"`
	HostIP        string `json:"HostIp,omitempty"`
}

// Health is a container's health check status.
type Health struct {
	Status string `json:"status"` // HEALTHY, UNHEALTHY, UNKNOWN
}

// Network is the task's network attachment as a container sees it.
type Network struct {
	NetworkMode         string   `json:"NetworkMode"` // "awsvpc"
	IPv4Addresses       []string `json:"IPv4Addresses"`
	AttachmentIndex     int      `json:"AttachmentIndex"`
	IPv4SubnetCIDRBlock string   `json:"IPv4SubnetCIDRBlock,omitempty"`
	PrivateDNSName      string   `json:"PrivateDNSName,omitempty"`
	// SubnetGatewayIPv4Address stays empty: a task subnet on loopback has
	// no gateway.
	SubnetGatewayIPv4Address string `json:"SubnetGatewayIpv4Address,omitempty"`
}
