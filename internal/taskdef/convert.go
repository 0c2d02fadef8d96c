package taskdef

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxInput bounds the JSON Convert reads (ECS caps a task definition at
// 64 KiB; describe output adds a little).
const MaxInput = 1 << 20

// SecretsDir is where a secret's placeholder file is, relative to the
// directory `portway up` runs in.
const SecretsDir = "secrets"

// Options are the service's settings a task definition does not carry.
type Options struct {
	Service      string // default: the task definition's family
	TargetGroup  string // default: the service's name
	DesiredCount int    // as given (the command's flag defaults to 1)
}

// Result is a converted task definition.
type Result struct {
	Service Service
	// Sidecar names the nginx container that became the built-in sidecar
	// ("" without one).
	Sidecar string
	Notes   []Note
	// Source describes the task definition: "family:revision".
	Source string
}

type converter struct {
	notes []Note
	errs  []error
}

func (c *converter) note(path, format string, args ...any) {
	c.notes = append(c.notes, Note{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *converter) fail(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// Task definition fields portway ignores, and why.
var ignoredTaskFields = map[string]string{
	"taskDefinitionArn":       "read-only metadata",
	"revision":                "read-only metadata (portway numbers its own revisions)",
	"status":                  "read-only metadata",
	"compatibilities":         "read-only metadata",
	"requiresAttributes":      "read-only metadata",
	"registeredAt":            "read-only metadata",
	"registeredBy":            "read-only metadata",
	"deregisteredAt":          "read-only metadata",
	"cpu":                     "task size: portway does not limit a task as a whole (container cpu and memory are kept)",
	"memory":                  "task size: portway does not limit a task as a whole (container cpu and memory are kept)",
	"requiresCompatibilities": "portway runs every task as Fargate would",
	"executionRoleArn":        "no IAM: images are pulled and secrets read locally",
	"taskRoleArn":             "no IAM: tasks get no AWS credentials",
	"volumes":                 "volumes are not supported",
	"placementConstraints":    "one machine: no placement",
	"runtimePlatform":         "tasks run on this machine's platform",
	"ephemeralStorage":        "not limited",
	"pidMode":                 "not supported",
	"ipcMode":                 "not supported",
	"proxyConfiguration":      "App Mesh proxies are not supported",
	"inferenceAccelerators":   "not supported",
	"enableFaultInjection":    "not supported",
	"tags":                    "tags are not kept",
}

// Container definition fields portway ignores, and why.
var ignoredContainerFields = map[string]string{
	"mountPoints":           "volumes are not supported",
	"volumesFrom":           "volumes are not supported",
	"logConfiguration":      "portway keeps each container's output itself (portway logs)",
	"firelensConfiguration": "log routers are not supported",
	"links":                 "awsvpc: containers of a task reach each other on localhost",
	"hostname":              "not allowed with awsvpc",
	"dnsServers":            "not supported",
	"dnsSearchDomains":      "not supported",
	"extraHosts":            "not allowed with awsvpc",
	"dockerLabels":          "portway sets its own labels",
	"privileged":            "not supported",
	"linuxParameters":       "not supported",
	"systemControls":        "not supported",
	"repositoryCredentials": "images are pulled with the local Docker engine's credentials",
	"resourceRequirements":  "GPUs are not supported",
	"environmentFiles":      "files in S3 cannot be fetched: put their variables in environment",
	"interactive":           "not supported",
	"pseudoTerminal":        "not supported",
	"disableNetworking":     "not supported",
	"dockerSecurityOptions": "not supported",
	"credentialSpecs":       "not supported",
	"restartPolicy":         "a stopped essential container stops its task, which its service replaces",
	"startTimeout":          "dependencies wait up to the service's readiness timeout",
	"versionConsistency":    "images are resolved by the local Docker engine",
	"cpuArchitecture":       "not supported",
}

// Convert reads a task definition and converts it.
func Convert(r io.Reader, opts Options) (Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
	if err != nil {
		return Result{}, err
	}
	if len(data) > MaxInput {
		return Result{}, fmt.Errorf("task definition larger than %d bytes", MaxInput)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Result{}, fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return Result{}, errors.New("not JSON: more than one value")
	}
	c := &converter{}
	top := c.object("", doc)
	if len(c.errs) > 0 {
		return Result{}, errors.New("want a JSON object: the output of aws ecs describe-task-definition or a register-task-definition input")
	}
	td := top
	if v, ok := top.m["taskDefinition"]; ok {
		// describe-task-definition: {"taskDefinition": {...}, "tags": [...]}
		td = c.object("taskDefinition", v)
		top.used["taskDefinition"] = true
	}
	res := c.convert(td, opts)
	if td != top {
		top.rest(ignoredTaskFields)
	}
	if len(c.errs) > 0 {
		return Result{}, errors.Join(c.errs...)
	}
	res.Notes = c.notes
	return res, nil
}

var nginxImage = regexp.MustCompile(`(^|/)nginx(-unprivileged)?(:|@|$)`)

// isNginx reports whether an image reference names an nginx repository
// (nginx, nginx:1.27, public.ecr.aws/nginx/nginx:stable,
// 123.dkr.ecr…/team/nginx-unprivileged…).
func isNginx(image string) bool {
	return nginxImage.MatchString(strings.ToLower(image))
}

func (c *converter) convert(td *object, opts Options) Result {
	family := td.str("family")
	res := Result{Source: family}
	if rev, ok := td.m["revision"]; ok {
		res.Source = fmt.Sprintf("%s:%v", family, rev)
	}
	if mode := td.str("networkMode"); mode != "" && mode != "awsvpc" {
		c.note(td.at("networkMode"), "ignored: %q; portway runs every task with awsvpc networking (its own address, containers share localhost)", mode)
	}
	svc := Service{Name: opts.Service, DesiredCount: opts.DesiredCount, TargetGroup: opts.TargetGroup}
	if svc.Name == "" {
		svc.Name = family
	}
	if svc.Name == "" {
		c.fail(td.at("family"), "required (or give --service)")
	}
	if svc.TargetGroup == "" {
		svc.TargetGroup = svc.Name
	}

	var defs []*object
	td.objects("containerDefinitions", func(o *object) {
		svc.Containers = append(svc.Containers, c.container(o))
		defs = append(defs, o)
	})
	if _, ok := td.m["containerDefinitions"]; !ok {
		c.fail(td.at("containerDefinitions"), "required")
	}
	td.rest(ignoredTaskFields)

	// The nginx container becomes the built-in sidecar in front of the
	// first other container with a port.
	for i, ct := range svc.Containers {
		if !isNginx(ct.Image) {
			continue
		}
		if res.Sidecar != "" {
			c.note(defs[i].at("image"), "a second nginx container: kept as an image container")
			continue
		}
		res.Sidecar = ct.Name
		svc.Containers[i] = c.sidecar(defs[i].path, ct, svc.Containers)
	}
	c.pickTarget(&svc, res.Sidecar)
	res.Service = svc
	return res
}

// pickTarget sets the container and port the target group reaches: the
// sidecar's, else the first container's first tcp port.
func (c *converter) pickTarget(svc *Service, sidecar string) {
	for _, ct := range svc.Containers {
		if sidecar != "" && ct.Name != sidecar {
			continue
		}
		for _, p := range ct.PortMappings {
			if p.Protocol == "" || p.Protocol == "tcp" {
				svc.ContainerName, svc.ContainerPort = ct.Name, p.ContainerPort
				return
			}
		}
	}
	svc.TargetGroup = ""
	c.note("containerDefinitions", "no container has a tcp port mapping: the service gets no target group")
}

// sidecar is the built-in sidecar in place of nginx container ct, on its
// first port, in front of the first other container's first tcp port.
func (c *converter) sidecar(path string, ct Container, all []Container) Container {
	listen := 9000
	if len(ct.PortMappings) > 0 {
		listen = ct.PortMappings[0].ContainerPort
	}
	upstream := 0
	for _, o := range all {
		if o.Name == ct.Name || upstream != 0 {
			continue
		}
		for _, p := range o.PortMappings {
			if p.Protocol == "" || p.Protocol == "tcp" {
				upstream = p.ContainerPort
				break
			}
		}
	}
	if upstream == 0 {
		upstream = 9001
		c.note(path, "no other container has a tcp port: the sidecar forwards to port 9001")
	}
	out := Container{
		Name: ct.Name,
		Command: []string{"sidecar", "--listen", fmt.Sprintf("${TASK_IP}:%d", listen),
			"--upstream", fmt.Sprintf("http://${TASK_IP}:%d", upstream)},
		PortMappings: []PortMapping{{ContainerPort: listen, Protocol: "tcp"}},
		Essential:    ct.Essential,
		DependsOn:    ct.DependsOn,
		StopTimeout:  ct.StopTimeout,
	}
	c.note(path, "nginx image %q: becomes portway's built-in sidecar on port %d in front of port %d "+
		"(its nginx.conf, command, environment, health check and limits are not used)", ct.Image, listen, upstream)
	if listen < 1024 {
		c.note(path+".portMappings[0].containerPort", "port %d is below 1024: the sidecar needs root (or a lower net.ipv4.ip_unprivileged_port_start) to bind it", listen)
	}
	return out
}

func (c *converter) container(o *object) Container {
	ct := Container{
		Name:             o.str("name"),
		Image:            o.str("image"),
		EntryPoint:       o.strings("entryPoint"),
		Command:          o.strings("command"),
		WorkingDirectory: o.str("workingDirectory"),
		User:             o.str("user"),
	}
	if ct.Name == "" {
		c.fail(o.at("name"), "required")
	}
	if ct.Image == "" {
		c.fail(o.at("image"), "required")
	}
	if b, ok := o.boolean("essential"); ok {
		ct.Essential = &b
	}
	ct.ReadonlyRootFilesystem, _ = o.boolean("readonlyRootFilesystem")
	ct.Memory, _ = o.integer("memory")
	ct.MemoryReservation, _ = o.integer("memoryReservation")
	ct.CPU, _ = o.integer("cpu")
	if s, ok := o.integer("stopTimeout"); ok {
		ct.StopTimeout = time.Duration(s) * time.Second
	}
	o.objects("environment", func(e *object) {
		ct.Environment = append(ct.Environment, KeyValue{Name: e.str("name"), Value: e.str("value")})
	})
	o.objects("secrets", func(e *object) {
		name, from := e.str("name"), e.str("valueFrom")
		file := SecretsDir + "/" + name
		ct.Secrets = append(ct.Secrets, Secret{Name: name, ValueFrom: file})
		c.note(e.at("valueFrom"), "%s cannot be fetched locally: %s is read from the file %s (relative to the directory portway up runs in); put the value there",
			describeSecret(from), name, file)
	})
	o.objects("portMappings", func(e *object) {
		var p PortMapping
		p.ContainerPort, _ = e.integer("containerPort")
		p.HostPort, _ = e.integer("hostPort")
		p.Protocol = e.str("protocol")
		if p.HostPort != 0 && p.HostPort != p.ContainerPort {
			c.fail(e.at("hostPort"), "%d differs from containerPort %d (awsvpc: they are equal)", p.HostPort, p.ContainerPort)
		}
		for _, k := range []string{"name", "appProtocol", "containerPortRange", "hostPortRange"} {
			if _, ok := e.get(k); ok {
				c.note(e.at(k), "ignored: Service Connect and port ranges are not supported")
			}
		}
		ct.PortMappings = append(ct.PortMappings, p)
	})
	o.objects("dependsOn", func(e *object) {
		ct.DependsOn = append(ct.DependsOn, Dependency{ContainerName: e.str("containerName"), Condition: e.str("condition")})
	})
	o.objects("ulimits", func(e *object) {
		var u Ulimit
		u.Name = e.str("name")
		u.SoftLimit, _ = e.integer("softLimit")
		u.HardLimit, _ = e.integer("hardLimit")
		ct.Ulimits = append(ct.Ulimits, u)
	})
	if v, ok := o.get("healthCheck"); ok {
		h := c.object(o.at("healthCheck"), v)
		hc := HealthCheck{Command: h.strings("command")}
		secs := func(k string) time.Duration {
			n, _ := h.integer(k)
			return time.Duration(n) * time.Second
		}
		hc.Interval, hc.Timeout, hc.StartPeriod = secs("interval"), secs("timeout"), secs("startPeriod")
		hc.Retries, _ = h.integer("retries")
		h.rest(nil)
		ct.HealthCheck = &hc
	}
	o.rest(ignoredContainerFields)
	return ct
}

// describeSecret names where an ECS secret's value lives.
func describeSecret(from string) string {
	switch {
	case strings.HasPrefix(from, "arn:aws:secretsmanager:"):
		return "Secrets Manager secret " + from
	case strings.HasPrefix(from, "arn:aws:ssm:"):
		return "SSM parameter " + from
	default:
		return fmt.Sprintf("SSM parameter %q", from)
	}
}

// YAML is the service as a services[] list item, with a comment naming
// its source (and the sidecar).
func (r Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Imported from the ECS task definition %s by portway import task-definition.\n", r.Source)
	if r.Sidecar != "" {
		fmt.Fprintf(&b, "# The nginx container %q is portway's built-in sidecar (not the nginx engine, nor its image):\n"+
			"# it does what the storage service's nginx does (CORS, X-Real-IP, X-Forwarded-For) in front of the app.\n", r.Sidecar)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode([]Service{r.Service}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
