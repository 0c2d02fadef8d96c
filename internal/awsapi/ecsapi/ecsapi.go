// Package ecsapi serves Amazon ECS's API (AWS JSON 1.1,
// AmazonEC2ContainerServiceV20141113) over portway's task supervisor: one
// cluster holding the stack's services. Every change goes through the
// Supervisor methods the control API's /ecs/ routes use (Scale, Deploy;
// StopTask as ECS's StopTask), so `aws ecs update-service` and
// `portway services scale` are two doors to one model.
package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/awsid"
	"github.com/portway/portway/internal/ecs"
)

// Supervisor is what the API needs of *ecs.Supervisor.
type Supervisor interface {
	Services() []ecs.ServiceStatus
	Tasks() []ecs.TaskStatus
	TaskDefinitions() []ecs.TaskDefinition
	Scale(name string, desired int) error
	Deploy(name string) (string, error)
	StopTaskWithReason(taskID, reason string) error
}

var _ Supervisor = (*ecs.Supervisor)(nil)

// DefaultCluster is the cluster's name.
const DefaultCluster = "portway"

// LaunchType is what portway's tasks are: awsvpc tasks without container
// instances, as Fargate's.
const LaunchType = "FARGATE"

// maxDesiredCount bounds desiredCount (as the control API's).
const maxDesiredCount = 1000

// Config configures the API.
type Config struct {
	Supervisor Supervisor
	Region     string
	Cluster    string // default DefaultCluster
	// TargetGroupARN names a target group's ARN (services' loadBalancers);
	// nil or "" leaves the ARN out.
	TargetGroupARN func(group string) string
	Logger         *slog.Logger
}

// API is the ECS API.
type API struct {
	*awsapi.JSONService
	cfg Config
}

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Supervisor == nil {
		return nil, errors.New("ecsapi: no supervisor")
	}
	if !awsid.ValidRegion(cfg.Region) {
		return nil, fmt.Errorf("ecsapi: region %q", cfg.Region)
	}
	if cfg.Cluster == "" {
		cfg.Cluster = DefaultCluster
	}
	a := &API{cfg: cfg}
	a.JSONService = &awsapi.JSONService{
		TargetPrefix:  awsapi.ECSTargetPrefix,
		InternalError: "ServerException",
		Logger:        cfg.Logger,
		Operations: map[string]awsapi.Operation{
			"ListClusters":           a.listClusters,
			"DescribeClusters":       a.describeClusters,
			"ListServices":           a.listServices,
			"DescribeServices":       a.describeServices,
			"UpdateService":          a.updateService,
			"ListTasks":              a.listTasks,
			"DescribeTasks":          a.describeTasks,
			"StopTask":               a.stopTask,
			"DescribeTaskDefinition": a.describeTaskDefinition,
			"ListTaskDefinitions":    a.listTaskDefinitions,
		},
	}
	return a, nil
}

var _ awsapi.Service = (*API)(nil)

// decode decodes an operation's input (InvalidParameterException for a
// member portway does not take).
func decode(body []byte, v any) error {
	return awsapi.DecodeInput(body, v, "InvalidParameterException")
}

func invalid(format string, args ...any) error {
	return awsapi.Errorf("InvalidParameterException", format, args...)
}

// ARNs in ECS's long format.
func (a *API) arn(resource string) string { return awsid.ARN("ecs", a.cfg.Region, resource) }
func (a *API) clusterARN() string         { return a.arn("cluster/" + a.cfg.Cluster) }
func (a *API) serviceARN(name string) string {
	return a.arn("service/" + a.cfg.Cluster + "/" + name)
}
func (a *API) taskARN(id string) string { return a.arn("task/" + a.cfg.Cluster + "/" + id) }
func (a *API) taskDefARN(family string, rev int) string {
	return a.arn(fmt.Sprintf("task-definition/%s:%d", family, rev))
}

// checkCluster accepts the cluster by name or ARN; "" is the default
// cluster, which is portway's one.
func (a *API) checkCluster(c string) error {
	if c == "" || c == a.cfg.Cluster || c == a.clusterARN() {
		return nil
	}
	return awsapi.Errorf("ClusterNotFoundException", "Cluster not found.")
}

// serviceName takes a service's name or ARN.
func (a *API) serviceName(s string) string {
	return strings.TrimPrefix(s, a.arn("service/"+a.cfg.Cluster+"/"))
}

// taskID takes a task's id or ARN.
func (a *API) taskID(s string) string {
	return strings.TrimPrefix(s, a.arn("task/"+a.cfg.Cluster+"/"))
}

func (a *API) status(name string) (ecs.ServiceStatus, bool) {
	for _, st := range a.cfg.Supervisor.Services() {
		if st.Name == name {
			return st, true
		}
	}
	return ecs.ServiceStatus{}, false
}

// page pages a list as ECS does (maxResults 1..100).
func page[T any](items []T, maxResults *int, nextToken string) ([]T, *string, error) {
	return awsapi.Page(items, maxResults, 100, nextToken, "maxResults", "nextToken", "InvalidParameterException")
}

type listInput struct {
	MaxResults *int   `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

func (a *API) listClusters(_ context.Context, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	arns, next, err := page([]string{a.clusterARN()}, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return struct {
		ClusterArns []string `json:"clusterArns"`
		NextToken   *string  `json:"nextToken,omitempty"`
	}{arns, next}, nil
}

type failure struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

func (a *API) describeClusters(_ context.Context, body []byte) (any, error) {
	var in struct {
		Clusters []string `json:"clusters"`
		Include  []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Clusters) == 0 {
		in.Clusters = []string{a.cfg.Cluster}
	}
	type cluster struct {
		ClusterArn                        string `json:"clusterArn"`
		ClusterName                       string `json:"clusterName"`
		Status                            string `json:"status"`
		RegisteredContainerInstancesCount int    `json:"registeredContainerInstancesCount"`
		RunningTasksCount                 int    `json:"runningTasksCount"`
		PendingTasksCount                 int    `json:"pendingTasksCount"`
		ActiveServicesCount               int    `json:"activeServicesCount"`
	}
	out := struct {
		Clusters []cluster `json:"clusters"`
		Failures []failure `json:"failures"`
	}{Clusters: []cluster{}, Failures: []failure{}}
	for _, c := range in.Clusters {
		if a.checkCluster(c) != nil {
			arn := c
			if !strings.HasPrefix(c, "arn:") {
				arn = a.arn("cluster/" + c)
			}
			out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		cl := cluster{ClusterArn: a.clusterARN(), ClusterName: a.cfg.Cluster, Status: "ACTIVE"}
		services := a.cfg.Supervisor.Services()
		cl.ActiveServicesCount = len(services)
		for _, s := range services {
			cl.RunningTasksCount += s.RunningCount
			cl.PendingTasksCount += s.PendingCount
		}
		out.Clusters = append(out.Clusters, cl)
	}
	return out, nil
}

func (a *API) listServices(_ context.Context, body []byte) (any, error) {
	var in struct {
		listInput
		Cluster            string `json:"cluster"`
		LaunchType         string `json:"launchType"`
		SchedulingStrategy string `json:"schedulingStrategy"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	arns := []string{}
	if (in.LaunchType == "" || in.LaunchType == LaunchType) && (in.SchedulingStrategy == "" || in.SchedulingStrategy == "REPLICA") {
		for _, s := range a.cfg.Supervisor.Services() {
			arns = append(arns, a.serviceARN(s.Name))
		}
	}
	arns, next, err := page(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return struct {
		ServiceArns []string `json:"serviceArns"`
		NextToken   *string  `json:"nextToken,omitempty"`
	}{arns, next}, nil
}

func (a *API) describeServices(_ context.Context, body []byte) (any, error) {
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
		Include  []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if len(in.Services) == 0 || len(in.Services) > 10 {
		return nil, invalid("services: name 1 to 10 services")
	}
	out := struct {
		Services []service `json:"services"`
		Failures []failure `json:"failures"`
	}{Services: []service{}, Failures: []failure{}}
	defs := a.currentDefs()
	for _, s := range in.Services {
		name := a.serviceName(s)
		st, ok := a.status(name)
		if !ok {
			out.Failures = append(out.Failures, failure{Arn: a.serviceARN(name), Reason: "MISSING"})
			continue
		}
		out.Services = append(out.Services, a.service(st, defs[name]))
	}
	return out, nil
}

func (a *API) currentDefs() map[string]ecs.TaskDefinition {
	m := map[string]ecs.TaskDefinition{}
	for _, d := range a.cfg.Supervisor.TaskDefinitions() {
		if d.Current {
			m[d.Family] = d
		}
	}
	return m
}

func (a *API) updateService(_ context.Context, body []byte) (any, error) {
	var in struct {
		Cluster            string  `json:"cluster"`
		Service            string  `json:"service"`
		DesiredCount       *int    `json:"desiredCount"`
		ForceNewDeployment bool    `json:"forceNewDeployment"`
		TaskDefinition     *string `json:"taskDefinition"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if in.Service == "" {
		return nil, invalid("service: required")
	}
	name := a.serviceName(in.Service)
	if _, ok := a.status(name); !ok {
		return nil, awsapi.Errorf("ServiceNotFoundException", "Service not found.")
	}
	if in.TaskDefinition != nil {
		def := a.currentDefs()[name]
		if t := *in.TaskDefinition; t != def.Family && t != fmt.Sprintf("%s:%d", def.Family, def.Revision) && t != a.taskDefARN(def.Family, def.Revision) {
			return nil, invalid("taskDefinition: portway runs the task definition of its stack config (%s:%d); change the config and reload it to deploy another",
				def.Family, def.Revision)
		}
	}
	if in.DesiredCount != nil {
		if *in.DesiredCount < 0 || *in.DesiredCount > maxDesiredCount {
			return nil, invalid("desiredCount: must be between 0 and %d", maxDesiredCount)
		}
		if err := a.cfg.Supervisor.Scale(name, *in.DesiredCount); err != nil {
			return nil, notFound(err)
		}
	}
	if in.ForceNewDeployment {
		if _, err := a.cfg.Supervisor.Deploy(name); err != nil {
			return nil, notFound(err)
		}
	}
	st, _ := a.status(name)
	return struct {
		Service service `json:"service"`
	}{a.service(st, a.currentDefs()[name])}, nil
}

func notFound(err error) error {
	if errors.Is(err, ecs.ErrServiceNotFound) {
		return awsapi.Errorf("ServiceNotFoundException", "Service not found.")
	}
	return err
}

// Ensure the handler type is an http.Handler for the router.
var _ http.Handler = (*API)(nil)
