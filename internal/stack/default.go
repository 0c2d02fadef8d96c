package stack

import (
	"fmt"
	"time"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/gateway"
)

// Addresses and names of the built-in storage-service stack.
const (
	DefaultGatewayListen  = "127.0.0.1:8080"
	DefaultAuthListen     = "127.0.0.1:8081"
	DefaultControlListen  = "127.0.0.1:8082"
	DefaultNLBAddress     = "127.77.0.10"
	DefaultTaskSubnet     = "127.77.1.0/24"
	StorageResourceServer = "https://api.wellcomecollection.org/storage/v1"
)

// Default returns the built-in stack: the storage service's bags API and
// ingests API, two tasks each, behind the load balancer's ports 65534 and
// 65535 and a gateway stage "v1" guarded by a Cognito-style authorizer.
func Default() Config {
	bagsScope := StorageResourceServer + "/bags"
	ingestsScope := StorageResourceServer + "/ingests"
	return Config{
		Auth: AuthConfig{
			Listen:     DefaultAuthListen,
			UserPoolID: auth.DefaultUserPoolID,
			ResourceServers: []ResourceServerConfig{{
				Identifier: StorageResourceServer,
				Scopes:     []string{"bags", "ingests"},
			}},
			TokenValidity: time.Hour,
			DefaultClient: ClientConfig{Name: "portway-default", Scopes: []string{bagsScope, ingestsScope}},
		},
		Gateway: GatewayConfig{
			Listen: DefaultGatewayListen,
			Stage:  "v1",
			StageVariables: map[string]string{
				"nlb_host":     DefaultNLBAddress,
				"bags_port":    "65534",
				"ingests_port": "65535",
			},
			// As the storage service maps its domain: base path storage/v1
			// to stage v1, so http://api.localhost:8080/storage/v1/… works.
			Domains: []gateway.Domain{{
				Name:     "api.localhost",
				Mappings: []gateway.BasePathMapping{{BasePath: "storage/v1", Stage: "v1"}},
			}},
			Responses: "storage",
			// The storage apps build their public URLs (Location) from
			// X-Forwarded-Host and -Prefix, which API Gateway does not send
			// (the real service uses a configured base URL, app_base_url):
			// the built-in stack has the gateway send them, so that every
			// host it serves gets Locations naming itself.
			ForwardedHeaders:    gateway.ForwardedHeaders{Host: true, Prefix: true},
			AllowEncodedSlashes: new(true), // bag identifiers may contain slashes (AWS's default too)
			Resources: []ResourceConfig{
				apiResource("/bags", "bags", bagsScope),
				apiResource("/bags/{proxy+}", "bags", bagsScope),
				apiResource("/ingests", "ingests", ingestsScope),
				apiResource("/ingests/{proxy+}", "ingests", ingestsScope),
			},
		},
		NLB: NLBConfig{
			Name:    "storage-nlb",
			Address: DefaultNLBAddress,
			Listeners: []ListenerConfig{
				{Port: 65534, TargetGroup: "bags"},
				{Port: 65535, TargetGroup: "ingests"},
			},
			TargetGroups: []TargetGroupConfig{localTargetGroup("bags"), localTargetGroup("ingests")},
		},
		Control: ControlConfig{Listen: DefaultControlListen},
		Tasks:   TasksConfig{Subnet: DefaultTaskSubnet},
		// A callback receiver on this machine (127.0.0.1:<port>) works;
		// the stack's own addresses are refused whatever this says.
		Storage: StorageConfig{Callbacks: CallbacksConfig{Allow: []string{"127.0.0.0/8", "::1/128"}}},
		Services: []ServiceConfig{
			storageService("bags"),
			storageService("ingests"),
		},
	}
}

// apiResource is a resource whose ANY method needs scope and proxies to the
// app behind the load balancer port named by the stage variable
// "<app>_port", keeping the path under /<app>.
func apiResource(path, app, scope string) ResourceConfig {
	uri := fmt.Sprintf("http://${stageVariables.nlb_host}:${stageVariables.%s_port}/%s", app, app)
	if path != "/"+app {
		uri += "/{proxy}"
	}
	return ResourceConfig{
		Path: path,
		Methods: []MethodConfig{{
			HTTPMethod:    "ANY",
			Authorization: "COGNITO_USER_POOLS",
			Scopes:        []string{scope},
			Integration:   IntegrationConfig{Type: "HTTP_PROXY", ConnectionType: "VPC_LINK", URI: uri, Timeout: 29 * time.Second},
		}},
	}
}

// localTargetGroup has fast health checks, so a new task is in service in
// about a second and a dead one is out within two, and a short
// deregistration delay after which connections still open are closed (the
// storage service uses 90 s; locally nobody wants to wait that long).
func localTargetGroup(name string) TargetGroupConfig {
	return TargetGroupConfig{
		Name: name,
		Port: 9000,
		HealthCheck: HealthCheckConfig{
			Protocol:           "HTTP",
			Path:               "/management/healthcheck",
			Matcher:            "200",
			Interval:           time.Second,
			Timeout:            900 * time.Millisecond,
			HealthyThreshold:   2,
			UnhealthyThreshold: 2,
		},
		DeregistrationDelay:   5 * time.Second,
		ConnectionTermination: true,
	}
}

// storageService is a service of two tasks, each the nginx-style sidecar on
// :9000 in front of the app on :9001, as in the storage service's task
// definitions.
func storageService(app string) ServiceConfig {
	return ServiceConfig{
		Name:          app,
		DesiredCount:  2,
		TargetGroup:   app,
		ContainerName: "nginx",
		ContainerPort: 9000,
		ReadinessPath: "/management/healthcheck",
		StopTimeout:   10 * time.Second,
		Containers: []ContainerConfig{
			// One scheduler thread, as nginx runs one worker here: eight small
			// processes share the machine, and idle threads spinning for work
			// cost more than they bring (measured with go run ./bench).
			{Name: "nginx", Command: []string{"sidecar", "--listen", "${TASK_IP}:9000", "--upstream", "http://${TASK_IP}:9001"},
				Env: []string{"GOMAXPROCS=1"}},
			{Name: "app", Command: []string{"app", "--kind", app, "--listen", "${TASK_IP}:9001",
				"--db", "${STATE_DIR}/storage.db", "--lease-duration", "15s"}},
		},
	}
}
