package ecsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/portway/portway/internal/awsapi"
	"github.com/portway/portway/internal/awsapi/awsapitest"
	pecs "github.com/portway/portway/internal/ecs"
)

// fakeSupervisor records the calls the API makes; the real one is driven
// by the e2e tests.
type fakeSupervisor struct {
	mu       sync.Mutex
	services []pecs.ServiceStatus
	tasks    []pecs.TaskStatus
	defs     []pecs.TaskDefinition
	calls    []string
}

func (f *fakeSupervisor) Services() []pecs.ServiceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pecs.ServiceStatus(nil), f.services...)
}
func (f *fakeSupervisor) Tasks() []pecs.TaskStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pecs.TaskStatus(nil), f.tasks...)
}
func (f *fakeSupervisor) TaskDefinitions() []pecs.TaskDefinition {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pecs.TaskDefinition(nil), f.defs...)
}
func (f *fakeSupervisor) Scale(name string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("Scale %s %d", name, n))
	for i := range f.services {
		if f.services[i].Name == name {
			f.services[i].DesiredCount = n
			return nil
		}
	}
	return pecs.ErrServiceNotFound
}
func (f *fakeSupervisor) Deploy(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "Deploy "+name)
	for i := range f.services {
		if f.services[i].Name == name {
			d := pecs.DeploymentStatus{ID: "ecs-svc/2222222222222222222", Status: "PRIMARY", RolloutState: "IN_PROGRESS",
				RolloutStateReason: "ECS deployment ecs-svc/2222222222222222222 in progress.", TaskDefinitionRevision: 1, CreatedAt: time.Now()}
			f.services[i].Deployments[0].Status = "ACTIVE"
			f.services[i].Deployments = append([]pecs.DeploymentStatus{d}, f.services[i].Deployments...)
			return d.ID, nil
		}
	}
	return "", pecs.ErrServiceNotFound
}
func (f *fakeSupervisor) StopTaskWithReason(id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "StopTask "+id+" "+reason)
	for i := range f.tasks {
		if f.tasks[i].TaskID == id && f.tasks[i].DesiredStatus == "RUNNING" {
			f.tasks[i].DesiredStatus, f.tasks[i].StoppedReason, f.tasks[i].StopCode = "STOPPED", reason, pecs.StopCodeUserInitiated
			return nil
		}
	}
	return fmt.Errorf("ecs: %w: %q", pecs.ErrTaskNotFound, id)
}

const taskA, taskB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"

func newFake() *fakeSupervisor {
	created := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	started := created.Add(2 * time.Second)
	stopped := created.Add(9 * time.Second)
	exit := 0
	return &fakeSupervisor{
		services: []pecs.ServiceStatus{{
			Name: "bags", DesiredCount: 1, RunningCount: 1,
			Deployments: []pecs.DeploymentStatus{{ID: "ecs-svc/1111111111111111111", Status: "PRIMARY", DesiredCount: 1, RunningCount: 1,
				RolloutState: "COMPLETED", RolloutStateReason: "ECS deployment ecs-svc/1111111111111111111 completed.", CreatedAt: created,
				TaskDefinitionRevision: 1}},
			Events: []pecs.ServiceEvent{{ID: "e1", CreatedAt: started, Message: "(service bags) has reached a steady state."}},
		}},
		tasks: []pecs.TaskStatus{
			{TaskID: taskA, Service: "bags", DeploymentID: "ecs-svc/1111111111111111111", TaskDefinitionRevision: 1,
				LastStatus: "RUNNING", DesiredStatus: "RUNNING", IP: "127.77.1.1", CreatedAt: created, StartedAt: &started,
				Containers: []pecs.ContainerStatus{{Name: "app", LastStatus: "RUNNING", HealthStatus: "HEALTHY"}, {Name: "nginx", LastStatus: "RUNNING"}}},
			{TaskID: taskB, Service: "bags", DeploymentID: "ecs-svc/1111111111111111111", TaskDefinitionRevision: 1,
				LastStatus: "STOPPED", DesiredStatus: "STOPPED", IP: "127.77.1.2", CreatedAt: created, StartedAt: &started, StoppedAt: &stopped,
				StoppedReason: "Essential container in task exited", StopCode: pecs.StopCodeEssentialExited,
				Containers: []pecs.ContainerStatus{{Name: "app", LastStatus: "STOPPED", ExitCode: &exit}}},
		},
		defs: []pecs.TaskDefinition{{Family: "bags", Revision: 1, Current: true, Config: pecs.ServiceConfig{
			Name: "bags", TargetGroup: "bags-tg", ContainerName: "nginx", ContainerPort: 9000, MaximumPercent: 200,
			Containers: []pecs.ContainerConfig{
				{Name: "app", Essential: true, Command: []string{"storage", "--listen", "${TASK_IP}:9001"}, Env: []string{"A=1"},
					HealthCheck: &pecs.HealthCheck{Command: []string{"CMD", "true"}, Interval: 5 * time.Second, Timeout: time.Second, Retries: 3}},
				{Name: "nginx", Engine: pecs.EngineNginx, Essential: true, PortMappings: []pecs.PortMapping{{ContainerPort: 9000}},
					DependsOn: []pecs.Dependency{{ContainerName: "app", Condition: "HEALTHY"}}},
			},
		}}},
	}
}

func setup(t *testing.T) (*fakeSupervisor, *ecs.Client, *awsapitest.Server) {
	t.Helper()
	f := newFake()
	api, err := New(Config{Supervisor: f, Region: awsapitest.Region,
		TargetGroupARN: func(g string) string {
			return "arn:aws:elasticloadbalancing:eu-west-1:000000000000:targetgroup/" + g + "/0123"
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := awsapitest.Serve(t, awsapi.Services{awsapi.ECS: api})
	return f, ecs.NewFromConfig(srv.Config(awsapitest.Creds)), srv
}

const arnPrefix = "arn:aws:ecs:eu-west-1:000000000000:"

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	return ae.ErrorCode()
}

func TestClustersAndServices(t *testing.T) {
	_, c, _ := setup(t)
	ctx := context.Background()
	lc, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := arnPrefix + "cluster/portway"; len(lc.ClusterArns) != 1 || lc.ClusterArns[0] != want {
		t.Errorf("ListClusters: %v", lc.ClusterArns)
	}
	dc, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"portway", "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dc.Clusters) != 1 || aws.ToString(dc.Clusters[0].ClusterName) != "portway" || dc.Clusters[0].RunningTasksCount != 1 ||
		dc.Clusters[0].ActiveServicesCount != 1 || len(dc.Failures) != 1 || aws.ToString(dc.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeClusters: %+v", dc)
	}
	ls, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("portway")})
	if err != nil {
		t.Fatal(err)
	}
	if want := arnPrefix + "service/portway/bags"; len(ls.ServiceArns) != 1 || ls.ServiceArns[0] != want {
		t.Errorf("ListServices: %v", ls.ServiceArns)
	}
	if _, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("other")}); apiCode(t, err) != "ClusterNotFoundException" {
		t.Errorf("ListServices of another cluster: %v", err)
	}
	ds, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("portway"), Services: []string{"bags", "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Services) != 1 || len(ds.Failures) != 1 {
		t.Fatalf("DescribeServices: %+v", ds)
	}
	s := ds.Services[0]
	d := s.Deployments[0]
	if aws.ToString(s.ServiceArn) != arnPrefix+"service/portway/bags" || aws.ToString(s.ClusterArn) != arnPrefix+"cluster/portway" ||
		aws.ToString(s.Status) != "ACTIVE" || s.DesiredCount != 1 || s.RunningCount != 1 || s.LaunchType != types.LaunchTypeFargate ||
		aws.ToString(s.TaskDefinition) != arnPrefix+"task-definition/bags:1" {
		t.Errorf("service: %+v", s)
	}
	if aws.ToString(d.Id) != "ecs-svc/1111111111111111111" || aws.ToString(d.Status) != "PRIMARY" || d.RolloutState != types.DeploymentRolloutStateCompleted ||
		aws.ToString(d.RolloutStateReason) == "" || aws.ToString(d.TaskDefinition) != arnPrefix+"task-definition/bags:1" ||
		d.CreatedAt == nil || !d.CreatedAt.Equal(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)) || d.UpdatedAt == nil {
		t.Errorf("deployment: %+v", d)
	}
	if len(s.Events) != 1 || aws.ToString(s.Events[0].Message) != "(service bags) has reached a steady state." || s.Events[0].CreatedAt == nil {
		t.Errorf("events: %+v", s.Events)
	}
	if len(s.LoadBalancers) != 1 || aws.ToString(s.LoadBalancers[0].ContainerName) != "nginx" || aws.ToInt32(s.LoadBalancers[0].ContainerPort) != 9000 ||
		!strings.HasSuffix(aws.ToString(s.LoadBalancers[0].TargetGroupArn), ":targetgroup/bags-tg/0123") {
		t.Errorf("loadBalancers: %+v", s.LoadBalancers)
	}
}

func TestUpdateService(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	out, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("portway"), Service: aws.String("bags"), DesiredCount: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Service.DesiredCount != 3 {
		t.Errorf("desiredCount after the update: %d", out.Service.DesiredCount)
	}
	out, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String(arnPrefix + "service/portway/bags"), ForceNewDeployment: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Service.Deployments) != 2 || aws.ToString(out.Service.Deployments[0].Id) != "ecs-svc/2222222222222222222" ||
		out.Service.Deployments[0].RolloutState != types.DeploymentRolloutStateInProgress {
		t.Errorf("deployments after forceNewDeployment: %+v", out.Service.Deployments)
	}
	if got := strings.Join(f.calls, "; "); got != "Scale bags 3; Deploy bags" {
		t.Errorf("supervisor calls: %s", got)
	}
	for _, tc := range []struct {
		in   ecs.UpdateServiceInput
		code string
	}{
		{ecs.UpdateServiceInput{Service: aws.String("nope"), DesiredCount: aws.Int32(1)}, "ServiceNotFoundException"},
		{ecs.UpdateServiceInput{Cluster: aws.String("x"), Service: aws.String("bags")}, "ClusterNotFoundException"},
		{ecs.UpdateServiceInput{Service: aws.String("bags"), DesiredCount: aws.Int32(-1)}, "InvalidParameterException"},
		{ecs.UpdateServiceInput{Service: aws.String("bags"), TaskDefinition: aws.String("other:3")}, "InvalidParameterException"},
		{ecs.UpdateServiceInput{Service: aws.String("bags"), PlatformVersion: aws.String("LATEST")}, "InvalidParameterException"},
	} {
		if _, err := c.UpdateService(ctx, &tc.in); apiCode(t, err) != tc.code {
			t.Errorf("UpdateService %+v: %v, want %s", tc.in, err, tc.code)
		}
	}
}

func TestTasks(t *testing.T) {
	f, c, _ := setup(t)
	ctx := context.Background()
	lt, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("portway"), ServiceName: aws.String("bags")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.TaskArns) != 1 || lt.TaskArns[0] != arnPrefix+"task/portway/"+taskA {
		t.Errorf("ListTasks (RUNNING by default): %v", lt.TaskArns)
	}
	lt, err = c.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("bags"), DesiredStatus: types.DesiredStatusStopped})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.TaskArns) != 1 || !strings.HasSuffix(lt.TaskArns[0], taskB) {
		t.Errorf("ListTasks STOPPED: %v", lt.TaskArns)
	}
	if _, err := c.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("nope")}); apiCode(t, err) != "ServiceNotFoundException" {
		t.Errorf("ListTasks of an unknown service: %v", err)
	}
	dt, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("portway"), Tasks: []string{taskA, arnPrefix + "task/portway/" + taskB, "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dt.Tasks) != 2 || len(dt.Failures) != 1 {
		t.Fatalf("DescribeTasks: %+v", dt)
	}
	a, b := dt.Tasks[0], dt.Tasks[1]
	if aws.ToString(a.LastStatus) != "RUNNING" || aws.ToString(a.DesiredStatus) != "RUNNING" || a.StartedAt == nil || a.CreatedAt == nil ||
		aws.ToString(a.TaskDefinitionArn) != arnPrefix+"task-definition/bags:1" || aws.ToString(a.Group) != "service:bags" ||
		aws.ToString(a.StartedBy) != "ecs-svc/1111111111111111111" || a.HealthStatus != types.HealthStatusHealthy {
		t.Errorf("running task: %+v", a)
	}
	if len(a.Containers) != 2 || aws.ToString(a.Containers[0].NetworkInterfaces[0].PrivateIpv4Address) != "127.77.1.1" ||
		a.Containers[0].HealthStatus != types.HealthStatusHealthy || a.Containers[1].HealthStatus != types.HealthStatusUnknown {
		t.Errorf("containers: %+v", a.Containers)
	}
	if len(a.Attachments) != 1 || aws.ToString(a.Attachments[0].Type) != "ElasticNetworkInterface" {
		t.Fatalf("attachments: %+v", a.Attachments)
	}
	ip := ""
	for _, kv := range a.Attachments[0].Details {
		if aws.ToString(kv.Name) == "privateIPv4Address" {
			ip = aws.ToString(kv.Value)
		}
	}
	if ip != "127.77.1.1" {
		t.Errorf("ENI privateIPv4Address = %q", ip)
	}
	if aws.ToString(b.StoppedReason) != "Essential container in task exited" || b.StopCode != types.TaskStopCodeEssentialContainerExited ||
		b.StoppedAt == nil || !b.StoppedAt.Equal(time.Date(2026, 12, 7, 3, 0, 9, 0, time.UTC)) ||
		aws.ToInt32(b.Containers[0].ExitCode) != 0 || b.Containers[0].ExitCode == nil {
		t.Errorf("stopped task: %+v", b)
	}

	st, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("portway"), Task: aws.String(taskA), Reason: aws.String("rotating")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(st.Task.DesiredStatus) != "STOPPED" || aws.ToString(st.Task.StoppedReason) != "rotating" || st.Task.StopCode != types.TaskStopCodeUserInitiated {
		t.Errorf("StopTask: %+v", st.Task)
	}
	if got := f.calls[len(f.calls)-1]; got != "StopTask "+taskA+" rotating" {
		t.Errorf("supervisor call: %s", got)
	}
	if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String("0000")}); apiCode(t, err) != "InvalidParameterException" {
		t.Errorf("StopTask of an unknown task: %v", err)
	}
}

func TestTaskDefinitions(t *testing.T) {
	_, c, _ := setup(t)
	ctx := context.Background()
	l, err := c.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.TaskDefinitionArns) != 1 || l.TaskDefinitionArns[0] != arnPrefix+"task-definition/bags:1" {
		t.Errorf("ListTaskDefinitions: %v", l.TaskDefinitionArns)
	}
	for _, ref := range []string{"bags", "bags:1", arnPrefix + "task-definition/bags:1"} {
		d, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		td := d.TaskDefinition
		if aws.ToString(td.Family) != "bags" || td.Revision != 1 || td.NetworkMode != types.NetworkModeAwsvpc || len(td.ContainerDefinitions) != 2 {
			t.Fatalf("%s: %+v", ref, td)
		}
		app, nginx := td.ContainerDefinitions[0], td.ContainerDefinitions[1]
		if aws.ToString(app.Name) != "app" || !aws.ToBool(app.Essential) || len(app.Command) != 3 || aws.ToString(app.Environment[0].Value) != "1" ||
			app.HealthCheck == nil || aws.ToInt32(app.HealthCheck.Interval) != 5 {
			t.Errorf("app: %+v", app)
		}
		if aws.ToString(nginx.Image) != "nginx" || aws.ToInt32(nginx.PortMappings[0].ContainerPort) != 9000 ||
			aws.ToString(nginx.DependsOn[0].ContainerName) != "app" || nginx.DependsOn[0].Condition != types.ContainerConditionHealthy {
			t.Errorf("nginx: %+v", nginx)
		}
	}
	for _, ref := range []string{"nope", "bags:2", "bags:x"} {
		if _, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)}); apiCode(t, err) != "ClientException" {
			t.Errorf("DescribeTaskDefinition %s: %v", ref, err)
		}
	}
}

// TestAuthErrors checks the JSON protocol's authentication errors, as the
// SDK reports them.
func TestAuthErrors(t *testing.T) {
	_, _, srv := setup(t)
	ctx := context.Background()
	wrongSecret := awsapitest.Creds
	wrongSecret.SecretAccessKey = strings.Repeat("w", 40)
	if _, err := ecs.NewFromConfig(srv.Config(wrongSecret)).ListClusters(ctx, &ecs.ListClustersInput{}); apiCode(t, err) != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v", err)
	}
	unknown := awsapitest.Creds
	unknown.AccessKeyID = "AKIAUNKNOWNUNKNOWNUN"
	_, err := ecs.NewFromConfig(srv.Config(unknown)).ListClusters(ctx, &ecs.ListClustersInput{})
	if apiCode(t, err) != "UnrecognizedClientException" || !strings.Contains(err.Error(), "The security token included in the request is invalid.") {
		t.Errorf("unknown key: %v", err)
	}
	cfg := srv.Config(awsapitest.Creds)
	cfg.Region = "us-east-1"
	if _, err := ecs.NewFromConfig(cfg).ListClusters(ctx, &ecs.ListClustersInput{}); apiCode(t, err) != "InvalidSignatureException" ||
		!strings.Contains(err.Error(), "Credential should be scoped to a valid region, not 'us-east-1'.") {
		t.Errorf("wrong region: %v", err)
	}

	// Unsigned, and the JSON protocol's own errors.
	for _, tc := range []struct {
		target, body, status, want string
	}{
		{"AmazonEC2ContainerServiceV20141113.ListClusters", "{}", "400", `{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}`},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", awsapi.JSONContentType)
		req.Header.Set("X-Amz-Target", tc.target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if fmt.Sprint(resp.StatusCode) != tc.status || string(b) != tc.want || resp.Header.Get("x-amzn-RequestId") == "" ||
			resp.Header.Get("Content-Type") != awsapi.JSONContentType {
			t.Errorf("unsigned %s: %d %s %v", tc.target, resp.StatusCode, b, resp.Header)
		}
	}
}
