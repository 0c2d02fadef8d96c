package ecsapi

import (
	"strings"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/ecs"
)

// service is ECS's Service shape (the members portway knows).
type service struct {
	ServiceArn               string              `json:"serviceArn"`
	ServiceName              string              `json:"serviceName"`
	ClusterArn               string              `json:"clusterArn"`
	LoadBalancers            []loadBalancer      `json:"loadBalancers"`
	Status                   string              `json:"status"`
	DesiredCount             int                 `json:"desiredCount"`
	RunningCount             int                 `json:"runningCount"`
	PendingCount             int                 `json:"pendingCount"`
	LaunchType               string              `json:"launchType"`
	TaskDefinition           string              `json:"taskDefinition"`
	DeploymentConfiguration  *deploymentConfig   `json:"deploymentConfiguration,omitempty"`
	Deployments              []deployment        `json:"deployments"`
	Events                   []event             `json:"events"`
	SchedulingStrategy       string              `json:"schedulingStrategy"`
	HealthCheckGracePeriodS  *int                `json:"healthCheckGracePeriodSeconds,omitempty"`
	DeploymentController     map[string]string   `json:"deploymentController"`
	NetworkConfiguration     *networkConfig      `json:"networkConfiguration,omitempty"`
	PlatformFamily           string              `json:"platformFamily,omitempty"`
	ServiceRegistries        []struct{}          `json:"serviceRegistries"`
	PropagateTags            string              `json:"propagateTags"`
	EnableECSManagedTags     bool                `json:"enableECSManagedTags"`
	EnableExecuteCommand     bool                `json:"enableExecuteCommand"`
	PlacementConstraints     []struct{}          `json:"placementConstraints"`
	PlacementStrategy        []struct{}          `json:"placementStrategy"`
	CapacityProviderStrategy []struct{}          `json:"capacityProviderStrategy,omitempty"`
	Tags                     []map[string]string `json:"tags,omitempty"`
}

type loadBalancer struct {
	TargetGroupArn string `json:"targetGroupArn,omitempty"`
	ContainerName  string `json:"containerName"`
	ContainerPort  int    `json:"containerPort"`
}

type deploymentConfig struct {
	MaximumPercent           int                 `json:"maximumPercent"`
	MinimumHealthyPercent    int                 `json:"minimumHealthyPercent"`
	DeploymentCircuitBreaker *ecs.CircuitBreaker `json:"deploymentCircuitBreaker,omitempty"`
}

type networkConfig struct {
	AwsvpcConfiguration struct {
		Subnets        []string `json:"subnets"`
		AssignPublicIP string   `json:"assignPublicIp"`
	} `json:"awsvpcConfiguration"`
}

type deployment struct {
	ID                 string       `json:"id"`
	Status             string       `json:"status"`
	TaskDefinition     string       `json:"taskDefinition"`
	DesiredCount       int          `json:"desiredCount"`
	PendingCount       int          `json:"pendingCount"`
	RunningCount       int          `json:"runningCount"`
	FailedTasks        int          `json:"failedTasks"`
	CreatedAt          awsapi.Epoch `json:"createdAt"`
	UpdatedAt          awsapi.Epoch `json:"updatedAt"`
	LaunchType         string       `json:"launchType"`
	RolloutState       string       `json:"rolloutState"`
	RolloutStateReason string       `json:"rolloutStateReason"`
}

type event struct {
	ID        string       `json:"id"`
	CreatedAt awsapi.Epoch `json:"createdAt"`
	Message   string       `json:"message"`
}

func (a *API) service(st ecs.ServiceStatus, def ecs.TaskDefinition) service {
	s := service{
		ServiceArn:           a.serviceARN(st.Name),
		ServiceName:          st.Name,
		ClusterArn:           a.clusterARN(),
		LoadBalancers:        []loadBalancer{},
		Status:               "ACTIVE",
		DesiredCount:         st.DesiredCount,
		RunningCount:         st.RunningCount,
		PendingCount:         st.PendingCount,
		LaunchType:           LaunchType,
		TaskDefinition:       a.taskDefARN(def.Family, def.Revision),
		Deployments:          []deployment{},
		Events:               []event{},
		SchedulingStrategy:   "REPLICA",
		DeploymentController: map[string]string{"type": "ECS"},
		ServiceRegistries:    []struct{}{},
		PropagateTags:        "NONE",
		PlacementConstraints: []struct{}{},
		PlacementStrategy:    []struct{}{},
	}
	cfg := def.Config
	if cfg.TargetGroup != "" {
		lb := loadBalancer{ContainerName: cfg.ContainerName, ContainerPort: cfg.ContainerPort}
		if a.cfg.TargetGroupARN != nil {
			lb.TargetGroupArn = a.cfg.TargetGroupARN(cfg.TargetGroup)
		}
		s.LoadBalancers = append(s.LoadBalancers, lb)
		g := int(cfg.HealthCheckGracePeriod.Seconds())
		s.HealthCheckGracePeriodS = &g
	}
	if def.Family != "" {
		dc := &deploymentConfig{MaximumPercent: cfg.MaximumPercent, MinimumHealthyPercent: ecs.DefaultMinimumHealthy,
			DeploymentCircuitBreaker: cfg.DeploymentCircuitBreaker}
		if cfg.MinimumHealthyPercent != nil {
			dc.MinimumHealthyPercent = *cfg.MinimumHealthyPercent
		}
		if dc.DeploymentCircuitBreaker == nil {
			dc.DeploymentCircuitBreaker = &ecs.CircuitBreaker{}
		}
		s.DeploymentConfiguration = dc
	}
	for _, d := range st.Deployments {
		s.Deployments = append(s.Deployments, deployment{
			ID: d.ID, Status: d.Status, TaskDefinition: a.taskDefARN(st.Name, d.TaskDefinitionRevision),
			DesiredCount: d.DesiredCount, PendingCount: d.PendingCount, RunningCount: d.RunningCount, FailedTasks: d.FailedTasks,
			CreatedAt: awsapi.Epoch(d.CreatedAt), UpdatedAt: awsapi.Epoch(d.CreatedAt), LaunchType: LaunchType,
			RolloutState: d.RolloutState, RolloutStateReason: d.RolloutStateReason,
		})
	}
	for _, e := range st.Events {
		s.Events = append(s.Events, event{ID: e.ID, CreatedAt: awsapi.Epoch(e.CreatedAt), Message: e.Message})
	}
	return s
}

// task is ECS's Task shape.
type task struct {
	TaskArn           string        `json:"taskArn"`
	ClusterArn        string        `json:"clusterArn"`
	TaskDefinitionArn string        `json:"taskDefinitionArn"`
	Group             string        `json:"group"`
	StartedBy         string        `json:"startedBy,omitempty"`
	LastStatus        string        `json:"lastStatus"`
	DesiredStatus     string        `json:"desiredStatus"`
	LaunchType        string        `json:"launchType"`
	Connectivity      string        `json:"connectivity,omitempty"`
	HealthStatus      string        `json:"healthStatus"`
	CreatedAt         awsapi.Epoch  `json:"createdAt"`
	StartedAt         *awsapi.Epoch `json:"startedAt,omitempty"`
	StoppingAt        *awsapi.Epoch `json:"stoppingAt,omitempty"`
	StoppedAt         *awsapi.Epoch `json:"stoppedAt,omitempty"`
	StoppedReason     string        `json:"stoppedReason,omitempty"`
	StopCode          string        `json:"stopCode,omitempty"`
	Containers        []container   `json:"containers"`
	Attachments       []attachment  `json:"attachments"`
	Version           int           `json:"version"`
}

type container struct {
	ContainerArn      string             `json:"containerArn"`
	TaskArn           string             `json:"taskArn"`
	Name              string             `json:"name"`
	LastStatus        string             `json:"lastStatus"`
	ExitCode          *int               `json:"exitCode,omitempty"`
	Reason            string             `json:"reason,omitempty"`
	HealthStatus      string             `json:"healthStatus"`
	NetworkInterfaces []networkInterface `json:"networkInterfaces"`
	NetworkBindings   []struct{}         `json:"networkBindings"`
	RuntimeID         string             `json:"runtimeId,omitempty"`
}

type networkInterface struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address"`
}

type attachment struct {
	ID      string     `json:"id"`
	Type    string     `json:"type"`
	Status  string     `json:"status"`
	Details []keyValue `json:"details"`
}

type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (a *API) task(t ecs.TaskStatus) task {
	arn := a.taskARN(t.TaskID)
	eniID := "eni-" + (t.TaskID + strings.Repeat("0", 17))[:17]
	attID := attachmentID(t.TaskID)
	out := task{
		TaskArn:           arn,
		ClusterArn:        a.clusterARN(),
		TaskDefinitionArn: a.taskDefARN(t.Service, t.TaskDefinitionRevision),
		Group:             "service:" + t.Service,
		StartedBy:         t.DeploymentID,
		LastStatus:        t.LastStatus,
		DesiredStatus:     t.DesiredStatus,
		LaunchType:        LaunchType,
		HealthStatus:      taskHealth(t),
		CreatedAt:         awsapi.Epoch(t.CreatedAt),
		StartedAt:         awsapi.EpochPtr(t.StartedAt),
		StoppedAt:         awsapi.EpochPtr(t.StoppedAt),
		StoppedReason:     t.StoppedReason,
		StopCode:          t.StopCode,
		Containers:        []container{},
		Version:           1,
	}
	if t.LastStatus == ecs.StatusRunning {
		out.Connectivity = "CONNECTED"
	}
	status := "ATTACHED"
	switch t.LastStatus {
	case ecs.StatusProvisioning:
		status = "PRECREATED"
	case ecs.StatusStopped:
		status = "DELETED"
	}
	out.Attachments = []attachment{{ID: attID, Type: "ElasticNetworkInterface", Status: status, Details: []keyValue{
		{"subnetId", "subnet-portway"},
		{"networkInterfaceId", eniID},
		{"privateIPv4Address", t.IP},
	}}}
	for _, c := range t.Containers {
		h := c.HealthStatus
		if h == "" {
			h = "UNKNOWN"
		}
		cc := container{
			ContainerArn: a.arn("container/" + a.cfg.Cluster + "/" + t.TaskID + "/" + c.Name),
			TaskArn:      arn, Name: c.Name, LastStatus: c.LastStatus, ExitCode: c.ExitCode, Reason: c.Reason, HealthStatus: h,
			NetworkInterfaces: []networkInterface{{AttachmentID: attID, PrivateIpv4Address: t.IP}},
			NetworkBindings:   []struct{}{},
		}
		out.Containers = append(out.Containers, cc)
	}
	return out
}

// taskHealth is a task's health as ECS derives it from its containers'
// (UNHEALTHY if any is, HEALTHY if all with a check are, else UNKNOWN).
func taskHealth(t ecs.TaskStatus) string {
	checked, healthy := 0, 0
	for _, c := range t.Containers {
		switch c.HealthStatus {
		case "UNHEALTHY":
			return "UNHEALTHY"
		case "HEALTHY":
			healthy++
			checked++
		case "UNKNOWN":
			checked++
		}
	}
	if checked > 0 && healthy == checked {
		return "HEALTHY"
	}
	return "UNKNOWN"
}

// attachmentID is a UUID-shaped id derived from the task id (32 hex).
func attachmentID(taskID string) string {
	id := taskID + strings.Repeat("0", max(0, 32-len(taskID)))
	return id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]
}
