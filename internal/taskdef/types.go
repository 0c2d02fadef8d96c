// Package taskdef turns an ECS task definition (the JSON of `aws ecs
// describe-task-definition`, or of `register-task-definition
// --cli-input-json`) into a portway stack's services[] entry, mapping every
// field portway understands and naming, by JSON path, each one it ignores.
//
// An nginx container (its image's repository is named nginx) becomes
// portway's built-in sidecar, listening on the nginx container's first
// port in front of the first other container's first port: portway does
// not read an nginx.conf baked into an image.
//
// Secrets (valueFrom: a Secrets Manager or SSM Parameter Store ARN or
// name) cannot be fetched locally: each becomes a file the container's
// variable is read from, secrets/NAME relative to the directory `portway
// up` runs in, with a note saying so.
package taskdef

import "time"

// Service is a stack's services[] entry (its YAML names as in the stack
// file).
type Service struct {
	Name          string      `yaml:"name"`
	DesiredCount  int         `yaml:"desiredCount"`
	TargetGroup   string      `yaml:"targetGroup,omitempty"`
	ContainerName string      `yaml:"containerName,omitempty"`
	ContainerPort int         `yaml:"containerPort,omitempty"`
	Containers    []Container `yaml:"containers"`
}

// Container is one task container, with ECS containerDefinitions names.
type Container struct {
	Name                   string        `yaml:"name"`
	Image                  string        `yaml:"image,omitempty"`
	EntryPoint             []string      `yaml:"entryPoint,omitempty"`
	Command                []string      `yaml:"command,omitempty"`
	Environment            []KeyValue    `yaml:"environment,omitempty"`
	Secrets                []Secret      `yaml:"secrets,omitempty"`
	PortMappings           []PortMapping `yaml:"portMappings,omitempty"`
	Essential              *bool         `yaml:"essential,omitempty"`
	DependsOn              []Dependency  `yaml:"dependsOn,omitempty"`
	HealthCheck            *HealthCheck  `yaml:"healthCheck,omitempty"`
	StopTimeout            time.Duration `yaml:"stopTimeout,omitempty"`
	WorkingDirectory       string        `yaml:"workingDirectory,omitempty"`
	User                   string        `yaml:"user,omitempty"`
	ReadonlyRootFilesystem bool          `yaml:"readonlyRootFilesystem,omitempty"`
	Ulimits                []Ulimit      `yaml:"ulimits,omitempty"`
	Memory                 int           `yaml:"memory,omitempty"`
	MemoryReservation      int           `yaml:"memoryReservation,omitempty"`
	CPU                    int           `yaml:"cpu,omitempty"`
}

// KeyValue is one environment variable.
type KeyValue struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// Secret is a variable read from a file (valueFrom).
type Secret struct {
	Name      string `yaml:"name"`
	ValueFrom string `yaml:"valueFrom"`
}

// PortMapping is one container port.
type PortMapping struct {
	ContainerPort int    `yaml:"containerPort"`
	HostPort      int    `yaml:"hostPort,omitempty"`
	Protocol      string `yaml:"protocol,omitempty"`
}

// Dependency is one dependsOn entry.
type Dependency struct {
	ContainerName string `yaml:"containerName"`
	Condition     string `yaml:"condition"`
}

// HealthCheck is a container health check; ECS's seconds become
// durations.
type HealthCheck struct {
	Command     []string      `yaml:"command"`
	Interval    time.Duration `yaml:"interval,omitempty"`
	Timeout     time.Duration `yaml:"timeout,omitempty"`
	Retries     int           `yaml:"retries,omitempty"`
	StartPeriod time.Duration `yaml:"startPeriod,omitempty"`
}

// Ulimit is one ulimits entry.
type Ulimit struct {
	Name      string `yaml:"name"`
	SoftLimit int    `yaml:"softLimit"`
	HardLimit int    `yaml:"hardLimit"`
}

// Note is a field the conversion ignored or changed, by JSON path.
type Note struct {
	Path    string
	Message string
}

func (n Note) String() string { return n.Path + ": " + n.Message }
