// Package stack holds the declarative description of a whole portway stack
// (auth, gateway, load balancer, services), the built-in storage-service
// stack, and the wiring that runs it all in one process for `portway up`.
package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/pki"
)

// Config is a whole stack, as written in a stack YAML file.
type Config struct {
	Auth     AuthConfig      `yaml:"auth"`
	Gateway  GatewayConfig   `yaml:"gateway"`
	NLB      NLBConfig       `yaml:"nlb"`
	Control  ControlConfig   `yaml:"control"`
	Tasks    TasksConfig     `yaml:"tasks"`
	Services []ServiceConfig `yaml:"services"`
	Storage  StorageConfig   `yaml:"storage,omitempty"`
	TLS      TLSConfig       `yaml:"tls,omitempty"`

	// openapiNotes are what the gateway.openapi document holds that
	// portway does not run and that changes nothing for clients.
	openapiNotes []string
}

// StorageConfig is where the storage apps keep their data.
type StorageConfig struct {
	// Store is a PostgreSQL DSN (postgres://…) for apps whose tasks run on
	// several hosts; empty means SQLite in the state dir. It reaches the
	// containers as $PORTWAY_STORE, never on a command line.
	Store string `yaml:"store,omitempty"`
	// Callbacks is where ingest callbacks may go.
	Callbacks CallbacksConfig `yaml:"callbacks,omitempty"`
}

// CallbacksConfig is the ingest callbacks' address policy. Callbacks never
// go to the stack's own listeners (gateway, auth, control, the load
// balancer's address, the task subnet), nor to link-local, multicast or
// broadcast addresses; public addresses are allowed.
type CallbacksConfig struct {
	// Allow lists the CIDRs inside which loopback and private addresses
	// may be called back (the built-in stack: 127.0.0.0/8 and ::1/128).
	// It reaches the containers as $PORTWAY_CALLBACK_ALLOW, the stack's
	// addresses as $PORTWAY_CALLBACK_DENY.
	Allow []string `yaml:"allow,omitempty"`
}

// AuthConfig describes the user pool that issues tokens.
type AuthConfig struct {
	Listen          string                 `yaml:"listen"`
	TLS             pki.ListenerTLS        `yaml:"tls,omitempty"`
	UserPoolID      string                 `yaml:"userPoolId"`
	ResourceServers []ResourceServerConfig `yaml:"resourceServers"`
	TokenValidity   time.Duration          `yaml:"tokenValidity"`
	// IssuerStyle "local" (default: the auth URL + "/" + userPoolId) or
	// "aws" (https://cognito-idp.{region}.amazonaws.com/{userPoolId}, for
	// code that hard-codes Cognito's form); Issuer overrides both.
	IssuerStyle string `yaml:"issuerStyle,omitempty"`
	Region      string `yaml:"region,omitempty"`
	Issuer      string `yaml:"issuer,omitempty"`
	// DefaultClient is created at first start; its credentials are written
	// to oauth-credentials.json in the state dir.
	DefaultClient ClientConfig `yaml:"defaultClient"`
	// Clients are further app clients, kept as declared: each is created at
	// the first start that lacks it (credentials written once to
	// clients/<name>.json in the state dir), and its scopes and token
	// validity follow the config on every start.
	Clients []ClientConfig `yaml:"clients,omitempty"`
}

// ResourceServerConfig is a Cognito resource server: an identifier and the
// scopes it defines. Full scope strings are "identifier/scope".
type ResourceServerConfig struct {
	Identifier string   `yaml:"identifier"`
	Scopes     []string `yaml:"scopes"`
}

// ClientConfig describes an app client.
type ClientConfig struct {
	Name string `yaml:"name"`
	// Scopes are full scope strings; empty means every scope of every
	// resource server.
	Scopes []string `yaml:"scopes"`
	// TokenValidity of this client's tokens (5m–24h); 0 means
	// auth.tokenValidity.
	TokenValidity time.Duration `yaml:"tokenValidity,omitempty"`
	// AllowedOAuthFlows: omitted means client_credentials; an empty list
	// disables the client (auth.clients only).
	AllowedOAuthFlows *[]string `yaml:"allowedOAuthFlows,omitempty"`
}

// GatewayConfig describes the REST API, its stage and where it listens.
type GatewayConfig struct {
	Listen string `yaml:"listen"`
	// TLS is the listener's own certificates (more are picked by SNI, e.g.
	// one per custom domain); with tls.enabled and none of its own, the
	// local CA issues one for loopback, *.localhost and the domains.
	TLS            pki.ListenerTLS   `yaml:"tls,omitempty"`
	Stage          string            `yaml:"stage"`
	StageVariables map[string]string `yaml:"stageVariables"`
	// Responses selects the gateway response templates: "aws" (the AWS
	// defaults, {"message": …}) or "storage" (the storage service's error
	// shape).
	Responses string `yaml:"responses"`
	// ResponseOverrides replace single gateway responses by type
	// (UNAUTHORIZED, THROTTLED, DEFAULT_4XX, …) on top of Responses:
	// statusCode, headers and a body template with $context variables.
	ResponseOverrides map[string]gateway.ResponseTemplate `yaml:"responseOverrides,omitempty"`
	// ForwardedHeaders sends the backend X-Forwarded-Host and/or
	// X-Forwarded-Prefix, which API Gateway does not send (off unless set;
	// the built-in stack's apps build their URLs from them).
	ForwardedHeaders gateway.ForwardedHeaders `yaml:"forwardedHeaders,omitempty"`
	// AllowEncodedSlashes lets %2F through in paths (still encoded when
	// forwarded), as AWS does, for APIs whose identifiers may contain
	// slashes; unset means true, false refuses such paths (400).
	AllowEncodedSlashes *bool            `yaml:"allowEncodedSlashes,omitempty"`
	Resources           []ResourceConfig `yaml:"resources"`
	// Stages beyond the first (Stage, StageVariables), each with its own
	// variables and optional throttle.
	Stages []gateway.Stage `yaml:"stages,omitempty"`
	// Domains are custom domain names with base path mappings to stages.
	Domains []gateway.Domain `yaml:"domains,omitempty"`
	// Hosts are more host names or IP addresses the gateway answers for by
	// the invoke URL (beside its listen address, localhost and the
	// domains), e.g. the DNS name of its machine.
	Hosts []string `yaml:"hosts,omitempty"`
	// Throttle is the default token bucket of every stage (and optionally
	// per client); zero is off.
	Throttle gateway.ThrottleConfig `yaml:"throttle,omitempty"`
	// Timeouts bound client connections; zero values are the defaults.
	Timeouts gateway.TimeoutsConfig `yaml:"timeouts,omitempty"`
	// MaxIntegrationTimeout raises the integrations' timeout limit above
	// 29 s (AWS: Regional and private REST APIs, up to the account's
	// quota); 0 keeps 29 s.
	MaxIntegrationTimeout time.Duration `yaml:"maxIntegrationTimeout,omitempty"`
	// OpenAPI is an API Gateway export (get-export, OpenAPI 3.0 or Swagger
	// 2.0, JSON or YAML, with the integrations and authorizers
	// extensions), relative to the stack file: its paths are the resources
	// (gateway.resources must then be empty), its gateway responses come
	// under responseOverrides, its basePath is the stage unless stage is set.
	OpenAPI string `yaml:"openapi,omitempty"`
	// AccessLog is the access log's format and rotation (tracing.go).
	AccessLog AccessLogConfig `yaml:"accessLog,omitempty"`
}

// ResourceConfig is one resource of the REST API with its methods.
type ResourceConfig struct {
	Path    string         `yaml:"path"`
	Methods []MethodConfig `yaml:"methods"`
}

// MethodConfig is a method on a resource: its authorization and integration.
type MethodConfig struct {
	HTTPMethod    string   `yaml:"httpMethod"`
	Authorization string   `yaml:"authorization"`
	Scopes        []string `yaml:"scopes"`
	// IdentityHeader is the header the token comes in (default
	// Authorization; AWS: the authorizer's identitySource).
	IdentityHeader string            `yaml:"identityHeader,omitempty"`
	Integration    IntegrationConfig `yaml:"integration"`
}

// IntegrationConfig is an HTTP_PROXY or MOCK integration.
type IntegrationConfig struct {
	Type string `yaml:"type"`
	// ConnectionType is VPC_LINK (through the private load balancer) or
	// INTERNET (default); both forward the same way locally.
	ConnectionType string        `yaml:"connectionType,omitempty"`
	URI            string        `yaml:"uri,omitempty"`
	Timeout        time.Duration `yaml:"timeout,omitempty"`
	// Mock is a MOCK integration's response: statusCode, headers, body.
	Mock *gateway.MockResponse `yaml:"mock,omitempty"`
	// RequestParameters map request values to the integration request's
	// headers and query parameters, in API Gateway's terms
	// ("integration.request.header.X-Stage": "'v1'").
	RequestParameters map[string]string `yaml:"requestParameters,omitempty"`
	// HTTPMethod is the integration request's method when it is not the
	// method's own (AWS's integration httpMethod).
	HTTPMethod string `yaml:"httpMethod,omitempty"`
}

// NLBConfig describes the private network load balancer.
type NLBConfig struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// IdleTimeout closes connections idle that long (default 350s).
	IdleTimeout time.Duration `yaml:"idleTimeout,omitempty"`
	// GatewayLink is how the gateway reaches these listeners when both run
	// in one process (portway up): "in-process" (default) opens each flow
	// straight to the chosen target, with the same target choice, health,
	// draining and timeouts as the listener but no extra TCP hop; "tcp"
	// connects to the listener's socket like any other client.
	GatewayLink string `yaml:"gatewayLink,omitempty"`
	// TargetCIDRs are the networks targets may be registered from (the
	// control API's RegisterTargets refuses other addresses). Empty: under
	// `portway up` tasks.subnet, for `portway nlb` loopback; `portway up`
	// always accepts its own tasks.subnet as well.
	TargetCIDRs  []string            `yaml:"targetCIDRs,omitempty"`
	Listeners    []ListenerConfig    `yaml:"listeners"`
	TargetGroups []TargetGroupConfig `yaml:"targetGroups"`
}

// Gateway links (NLBConfig.GatewayLink).
const (
	LinkInProcess = "in-process"
	LinkTCP       = "tcp"
)

// ListenerConfig is a TCP listener forwarding to a target group.
type ListenerConfig struct {
	Port        int           `yaml:"port"`
	TargetGroup string        `yaml:"targetGroup"`
	IdleTimeout time.Duration `yaml:"idleTimeout,omitempty"`
}

// TargetGroupConfig is an ip target group with an HTTP health check.
type TargetGroupConfig struct {
	Name                string            `yaml:"name"`
	Port                int               `yaml:"port"`
	HealthCheck         HealthCheckConfig `yaml:"healthCheck"`
	DeregistrationDelay time.Duration     `yaml:"deregistrationDelay"`
	// ConnectionTermination closes the connections still open when the
	// deregistration delay ends (AWS's connection_termination).
	ConnectionTermination bool `yaml:"connectionTermination,omitempty"`
	// ProxyProtocolV2 sends a PROXY protocol v2 header on each target
	// connection; targets must expect it (`portway sidecar --proxy-protocol`).
	ProxyProtocolV2 bool `yaml:"proxyProtocolV2,omitempty"`
	// UnhealthyConnectionTermination (AWS
	// target_health_state.unhealthy.connection_termination.enabled; omitted
	// means true): a target that turns unhealthy has its connections reset,
	// unless the group fails open. false: it is unhealthy.draining for
	// UnhealthyDrainingInterval first.
	UnhealthyConnectionTermination *bool `yaml:"unhealthyConnectionTermination,omitempty"`
	// UnhealthyDrainingInterval (AWS
	// target_health_state.unhealthy.draining_interval_seconds, 0–100h):
	// only with unhealthyConnectionTermination false.
	UnhealthyDrainingInterval time.Duration `yaml:"unhealthyDrainingInterval,omitempty"`
}

// HealthCheckConfig is a target group's health check.
type HealthCheckConfig struct {
	Protocol string `yaml:"protocol"`
	Path     string `yaml:"path"`
	// Port is "traffic-port" (default: the target's own port) or a number.
	Port               HealthCheckPort `yaml:"port"`
	Matcher            string          `yaml:"matcher"`
	Interval           time.Duration   `yaml:"interval"`
	Timeout            time.Duration   `yaml:"timeout"`
	HealthyThreshold   int             `yaml:"healthyThreshold"`
	UnhealthyThreshold int             `yaml:"unhealthyThreshold"`
}

// ControlConfig is the control API (target and task state).
type ControlConfig struct {
	Listen string          `yaml:"listen"`
	TLS    pki.ListenerTLS `yaml:"tls,omitempty"`
}

// TasksConfig is the task network: each task gets its own address.
type TasksConfig struct {
	Subnet string `yaml:"subnet"`
	// Docker is the engine that runs the image containers.
	Docker DockerConfig `yaml:"docker,omitempty"`
}

// DockerConfig says which Docker engine runs the image containers.
type DockerConfig struct {
	// Host is the Engine API address (unix:///var/run/docker.sock,
	// tcp://127.0.0.1:2375); empty means $DOCKER_HOST, else the default
	// socket.
	Host string `yaml:"host,omitempty"`
}

// ServiceConfig is an ECS-style service: a task definition kept at a
// desired count behind a target group.
type ServiceConfig struct {
	Name          string        `yaml:"name"`
	DesiredCount  int           `yaml:"desiredCount"`
	TargetGroup   string        `yaml:"targetGroup"`
	ContainerName string        `yaml:"containerName"`
	ContainerPort int           `yaml:"containerPort"`
	ReadinessPath string        `yaml:"readinessPath"`
	StopTimeout   time.Duration `yaml:"stopTimeout"`
	// HealthCheckGracePeriod: target health failures before it has passed
	// since the task started do not replace the task.
	HealthCheckGracePeriod time.Duration `yaml:"healthCheckGracePeriod,omitempty"`
	// Rolling deployments keep at least minimumHealthyPercent (default 100)
	// of desiredCount in service and run at most maximumPercent (default 200).
	MinimumHealthyPercent *int `yaml:"minimumHealthyPercent,omitempty"`
	MaximumPercent        int  `yaml:"maximumPercent,omitempty"`
	// DeploymentCircuitBreaker (enable, rollback): a deployment whose tasks
	// keep failing (half the desired count in a row, 3 to 200) is FAILED
	// and launches no more tasks; with rollback, the service goes back to
	// its last completed deployment's task definition.
	DeploymentCircuitBreaker *ecs.CircuitBreaker `yaml:"deploymentCircuitBreaker,omitempty"`
	Containers               []ContainerConfig   `yaml:"containers"`
}

// ContainerConfig is one container of a task. Command is the argument list
// of the portway binary, or of Executable when set, or the CMD of Image
// when set; "${TASK_IP}" and "${STATE_DIR}" are replaced. The fields have
// the names of ECS containerDefinitions.
type ContainerConfig struct {
	Name string `yaml:"name"`
	// Executable runs any program (an absolute path or a name on $PATH)
	// instead of the portway binary.
	Executable string   `yaml:"executable,omitempty"`
	Command    []string `yaml:"command"`
	Env        []string `yaml:"env,omitempty"`
	Essential  *bool    `yaml:"essential,omitempty"`
	// Engine "nginx" runs the system's nginx with a generated config in
	// place of the built-in sidecar (the command's --listen and --upstream).
	Engine string `yaml:"engine,omitempty"`
	// PortMappings declare the container's ports (the service's
	// containerPort must be one of its container's).
	PortMappings []ecs.PortMapping `yaml:"portMappings,omitempty"`
	// StopTimeout: how long after SIGTERM the container gets SIGKILL; 0
	// means the service's stopTimeout.
	StopTimeout time.Duration    `yaml:"stopTimeout,omitempty"`
	Secrets     []ecs.Secret     `yaml:"secrets,omitempty"`
	DependsOn   []ecs.Dependency `yaml:"dependsOn,omitempty"`
	HealthCheck *ecs.HealthCheck `yaml:"healthCheck,omitempty"`

	// Image runs the container from a container image through Docker (in
	// the task's own network namespace) instead of as a local process;
	// not with executable or engine. The fields below are for images only.
	Image string `yaml:"image,omitempty"`
	// EntryPoint replaces the image's ENTRYPOINT.
	EntryPoint []string `yaml:"entryPoint,omitempty"`
	// Environment is ECS's form of env: [{name, value}].
	Environment       []KeyValue   `yaml:"environment,omitempty"`
	WorkingDirectory  string       `yaml:"workingDirectory,omitempty"`
	User              string       `yaml:"user,omitempty"`
	ReadonlyRoot      bool         `yaml:"readonlyRootFilesystem,omitempty"`
	Ulimits           []ecs.Ulimit `yaml:"ulimits,omitempty"`
	Memory            int          `yaml:"memory,omitempty"`            // MiB, hard limit
	MemoryReservation int          `yaml:"memoryReservation,omitempty"` // MiB, soft limit
	CPU               int          `yaml:"cpu,omitempty"`               // CPU units (1024 = one CPU) as CPU shares
	// LogConfiguration is accepted and ignored (with a warning): portway
	// keeps every container's output in its task log.
	LogConfiguration Ignored `yaml:"logConfiguration,omitempty"`
}

// KeyValue is an ECS name/value pair (environment).
type KeyValue struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// Ignored is a field accepted as any YAML and otherwise ignored; it is
// written back as it was read.
type Ignored struct{ node *yaml.Node }

// UnmarshalYAML keeps the node.
func (i *Ignored) UnmarshalYAML(n *yaml.Node) error {
	i.node = n
	return nil
}

// MarshalYAML writes the node back.
func (i Ignored) MarshalYAML() (any, error) { return i.node, nil }

// IsZero reports whether the field was absent.
func (i Ignored) IsZero() bool { return i.node == nil }

// Load reads a stack file strictly: unknown fields are errors naming the
// field and its line. The config is validated.
func Load(path string) (Config, error) {
	cfg, err := Read(path)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("stack config %s: %w", path, err)
	}
	return cfg, nil
}

// Read reads a stack file strictly (Decode) without validating it: for
// callers that run Preflight, which validates, next.
func Read(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read stack config: %w", err)
	}
	cfg, err := decode(data, filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("stack config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a stack config from YAML, strictly, and validates it. A
// gateway.openapi file is read relative to the working directory.
func Parse(data []byte) (Config, error) {
	cfg, err := Decode(data)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Decode decodes a stack config from YAML, strictly, without validating
// it (Validate, Preflight). A gateway.openapi file is read relative to the
// working directory.
func Decode(data []byte) (Config, error) { return decode(data, "") }

// decode is Decode with gateway.openapi relative to dir.
func decode(data []byte, dir string) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, err
	}
	if err := checkShape(&doc); err != nil {
		return Config{}, err
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("the file is empty")
		}
		return Config{}, err
	}
	if err := cfg.importOpenAPI(dir); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Marshal renders the config as YAML.
func (c Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// HealthCheckPort is a health check's port: 0 for "traffic-port", or a
// port number.
type HealthCheckPort int

// UnmarshalYAML accepts "traffic-port" or a number from 1 to 65535.
func (p *HealthCheckPort) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "traffic-port" {
		*p = 0
		return nil
	}
	var v int
	if err := n.Decode(&v); err != nil || v < 1 || v > 65535 {
		return fmt.Errorf("line %d: health check port %q must be traffic-port or 1..65535", n.Line, n.Value)
	}
	*p = HealthCheckPort(v)
	return nil
}

// MarshalYAML writes 0 as "traffic-port".
func (p HealthCheckPort) MarshalYAML() (any, error) {
	if p == 0 {
		return "traffic-port", nil
	}
	return int(p), nil
}
