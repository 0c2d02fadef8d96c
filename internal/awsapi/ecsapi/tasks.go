package ecsapi

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/ecs"
)

func (a *API) listTasks(_ context.Context, body []byte) (any, error) {
	var in struct {
		listInput
		Cluster       string `json:"cluster"`
		ServiceName   string `json:"serviceName"`
		DesiredStatus string `json:"desiredStatus"`
		Family        string `json:"family"`
		StartedBy     string `json:"startedBy"`
		LaunchType    string `json:"launchType"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	switch in.DesiredStatus {
	case "":
		in.DesiredStatus = ecs.StatusRunning // ECS's default filter
	case ecs.StatusRunning, ecs.StatusPending, ecs.StatusStopped:
	default:
		return nil, invalid("desiredStatus: must be RUNNING, PENDING or STOPPED")
	}
	name := a.serviceName(in.ServiceName)
	if name != "" {
		if _, ok := a.status(name); !ok {
			return nil, awsapi.Errorf("ServiceNotFoundException", "Service not found.")
		}
	}
	arns := []string{}
	for _, t := range a.cfg.Supervisor.Tasks() {
		switch {
		case name != "" && t.Service != name,
			in.Family != "" && t.Service != in.Family,
			in.StartedBy != "" && t.DeploymentID != in.StartedBy,
			in.LaunchType != "" && in.LaunchType != LaunchType,
			// ECS has no PENDING desired status for service tasks.
			t.DesiredStatus != in.DesiredStatus:
			continue
		}
		arns = append(arns, a.taskARN(t.TaskID))
	}
	arns, next, err := page(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return struct {
		TaskArns  []string `json:"taskArns"`
		NextToken *string  `json:"nextToken,omitempty"`
	}{arns, next}, nil
}

func (a *API) describeTasks(_ context.Context, body []byte) (any, error) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
		Include []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		return nil, invalid("tasks: name 1 to 100 tasks")
	}
	byID := map[string]ecs.TaskStatus{}
	for _, t := range a.cfg.Supervisor.Tasks() {
		byID[t.TaskID] = t
	}
	out := struct {
		Tasks    []task    `json:"tasks"`
		Failures []failure `json:"failures"`
	}{Tasks: []task{}, Failures: []failure{}}
	for _, ref := range in.Tasks {
		id := a.taskID(ref)
		t, ok := byID[id]
		if !ok {
			out.Failures = append(out.Failures, failure{Arn: a.taskARN(id), Reason: "MISSING"})
			continue
		}
		out.Tasks = append(out.Tasks, a.task(t))
	}
	return out, nil
}

func (a *API) stopTask(_ context.Context, body []byte) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := a.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if in.Task == "" {
		return nil, invalid("task: required")
	}
	if len(in.Reason) > 255 {
		return nil, invalid("reason: at most 255 characters")
	}
	id := a.taskID(in.Task)
	if err := a.cfg.Supervisor.StopTaskWithReason(id, in.Reason); err != nil {
		if errors.Is(err, ecs.ErrTaskNotFound) {
			// A stopped task is answered as it is, as ECS does.
			for _, t := range a.cfg.Supervisor.Tasks() {
				if t.TaskID == id {
					return struct {
						Task task `json:"task"`
					}{a.task(t)}, nil
				}
			}
			return nil, invalid("The referenced task was not found.")
		}
		return nil, err
	}
	for _, t := range a.cfg.Supervisor.Tasks() {
		if t.TaskID == id {
			return struct {
				Task task `json:"task"`
			}{a.task(t)}, nil
		}
	}
	return nil, invalid("The referenced task was not found.")
}

// findTaskDefinition takes "family", "family:revision" or an ARN.
func (a *API) findTaskDefinition(ref string) (ecs.TaskDefinition, error) {
	ref = strings.TrimPrefix(ref, a.arn("task-definition/"))
	family, revText, hasRev := strings.Cut(ref, ":")
	rev := 0
	if hasRev {
		n, err := strconv.Atoi(revText)
		if err != nil || n < 1 {
			return ecs.TaskDefinition{}, awsapi.Errorf("ClientException", "Invalid revision number. Number: %s", revText)
		}
		rev = n
	}
	for _, d := range a.cfg.Supervisor.TaskDefinitions() {
		if d.Family == family && (rev == d.Revision || (rev == 0 && d.Current)) {
			return d, nil
		}
	}
	return ecs.TaskDefinition{}, awsapi.Errorf("ClientException", "Unable to describe task definition.")
}

func (a *API) describeTaskDefinition(_ context.Context, body []byte) (any, error) {
	var in struct {
		TaskDefinition string   `json:"taskDefinition"`
		Include        []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TaskDefinition == "" {
		return nil, invalid("taskDefinition: required")
	}
	d, err := a.findTaskDefinition(in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	return struct {
		TaskDefinition taskDefinition `json:"taskDefinition"`
	}{a.taskDefinition(d)}, nil
}

func (a *API) listTaskDefinitions(_ context.Context, body []byte) (any, error) {
	var in struct {
		listInput
		FamilyPrefix string `json:"familyPrefix"`
		Status       string `json:"status"`
		Sort         string `json:"sort"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch in.Status {
	case "", "ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS":
	default:
		return nil, invalid("status: must be ACTIVE, INACTIVE or DELETE_IN_PROGRESS")
	}
	defs := a.cfg.Supervisor.TaskDefinitions()
	arns := []string{}
	if in.Status == "" || in.Status == "ACTIVE" {
		for _, d := range defs {
			if strings.HasPrefix(d.Family, in.FamilyPrefix) {
				arns = append(arns, a.taskDefARN(d.Family, d.Revision))
			}
		}
	}
	// ECS sorts by family, then revision: ASC by default.
	slicesSortARNs(arns, in.Sort == "DESC")
	arns, next, err := page(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return struct {
		TaskDefinitionArns []string `json:"taskDefinitionArns"`
		NextToken          *string  `json:"nextToken,omitempty"`
	}{arns, next}, nil
}

// taskDefinition is ECS's TaskDefinition shape.
type taskDefinition struct {
	TaskDefinitionArn       string                `json:"taskDefinitionArn"`
	Family                  string                `json:"family"`
	Revision                int                   `json:"revision"`
	Status                  string                `json:"status"`
	NetworkMode             string                `json:"networkMode"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities"`
	Compatibilities         []string              `json:"compatibilities"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
}

type containerDefinition struct {
	Name         string        `json:"name"`
	Essential    bool          `json:"essential"`
	Image        string        `json:"image"`
	Command      []string      `json:"command"`
	Environment  []keyValue    `json:"environment"`
	Secrets      []secret      `json:"secrets,omitempty"`
	PortMappings []portMapping `json:"portMappings"`
	DependsOn    []dependsOn   `json:"dependsOn,omitempty"`
	HealthCheck  *healthCheck  `json:"healthCheck,omitempty"`
	StopTimeout  int           `json:"stopTimeout,omitempty"`
}

type secret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

type portMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

type dependsOn struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

type healthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

func (a *API) taskDefinition(d ecs.TaskDefinition) taskDefinition {
	td := taskDefinition{
		TaskDefinitionArn: a.taskDefARN(d.Family, d.Revision), Family: d.Family, Revision: d.Revision, Status: "ACTIVE",
		NetworkMode: "awsvpc", RequiresCompatibilities: []string{LaunchType}, Compatibilities: []string{"EC2", LaunchType},
		ContainerDefinitions: []containerDefinition{},
	}
	for _, c := range d.Config.Containers {
		cd := containerDefinition{Name: c.Name, Essential: c.Essential, Command: append([]string{}, c.Command...),
			Environment: []keyValue{}, PortMappings: []portMapping{}}
		cd.Image = c.Executable
		if c.Engine != ecs.EngineProcess {
			cd.Image = c.Engine
		} else if cd.Image == "" {
			cd.Image = "portway"
		}
		for _, e := range c.Env {
			k, v, _ := strings.Cut(e, "=")
			cd.Environment = append(cd.Environment, keyValue{k, v})
		}
		for _, s := range c.Secrets {
			cd.Secrets = append(cd.Secrets, secret{Name: s.Name, ValueFrom: s.ValueFrom})
		}
		for _, p := range c.PortMappings {
			proto := p.Protocol
			if proto == "" {
				proto = "tcp"
			}
			cd.PortMappings = append(cd.PortMappings, portMapping{p.ContainerPort, p.ContainerPort, proto})
		}
		for _, dep := range c.DependsOn {
			cd.DependsOn = append(cd.DependsOn, dependsOn{dep.ContainerName, dep.Condition})
		}
		if h := c.HealthCheck; h != nil {
			cd.HealthCheck = &healthCheck{Command: h.Command, Interval: int(h.Interval.Seconds()), Timeout: int(h.Timeout.Seconds()),
				Retries: h.Retries, StartPeriod: int(h.StartPeriod.Seconds())}
		}
		if c.StopTimeout > 0 {
			cd.StopTimeout = int(c.StopTimeout.Seconds())
		}
		td.ContainerDefinitions = append(td.ContainerDefinitions, cd)
	}
	return td
}

func slicesSortARNs(arns []string, desc bool) {
	key := func(s string) (string, int) {
		i := strings.LastIndexByte(s, ':')
		n, _ := strconv.Atoi(s[i+1:])
		return s[:i], n
	}
	cmp := func(x, y string) int {
		fx, rx := key(x)
		fy, ry := key(y)
		if c := strings.Compare(fx, fy); c != 0 {
			return c
		}
		return rx - ry
	}
	slices.SortFunc(arns, func(x, y string) int {
		if desc {
			return -cmp(x, y)
		}
		return cmp(x, y)
	})

}
