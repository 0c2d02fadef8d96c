package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/portway/portway/internal/ecs"
)

// sandbox is one task's network namespace: its pause container.
type sandbox struct {
	e       *Engine
	spec    ecs.TaskSpec
	pauseID string
	pid     int // the pause process, on the engine's host

	mu         sync.Mutex
	containers []string // IDs of the app containers started in it
}

var _ ecs.TaskSandbox = (*sandbox)(nil)

// CreateTask implements ecs.ImageRuntime: the task's images present
// (pulled when missing), then the pause container publishing the task's
// ports on its address.
func (e *Engine) CreateTask(ctx context.Context, spec ecs.TaskSpec) (ecs.TaskSandbox, error) {
	if e.pause == "" {
		return nil, errors.New("docker: the engine has not been started")
	}
	for _, ref := range spec.Images {
		if err := e.ensureImage(ctx, ref); err != nil {
			return nil, err
		}
	}
	exposed, bindings, err := portBindings(spec)
	if err != nil {
		return nil, err
	}
	cfg := &container.Config{
		Image:        e.pause,
		Labels:       e.labels(spec.Service, spec.TaskID, RolePause, RolePause),
		ExposedPorts: exposed,
	}
	host := &container.HostConfig{
		PortBindings: bindings,
		LogConfig:    container.LogConfig{Type: "none"},
		// What the app containers may need of the namespace: none of the
		// capabilities, the pause program needs nothing either.
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges"},
	}
	cctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	created, err := e.cli.ContainerCreate(cctx, cfg, host, nil, nil, containerName(spec.Service, spec.TaskID, RolePause))
	if err != nil {
		return nil, fmt.Errorf("create the task's network namespace: %w", err)
	}
	sb := &sandbox{e: e, spec: spec, pauseID: created.ID}
	if err := e.cli.ContainerStart(cctx, created.ID, container.StartOptions{}); err != nil {
		_ = removeForce(ctx, e.cli, created.ID)
		return nil, fmt.Errorf("start the task's network namespace (ports %v on %s): %w", spec.Ports, spec.IP, err)
	}
	info, err := e.cli.ContainerInspect(cctx, created.ID)
	if err != nil {
		_ = removeForce(ctx, e.cli, created.ID)
		return nil, fmt.Errorf("inspect the task's network namespace: %w", err)
	}
	if info.State != nil {
		sb.pid = info.State.Pid
	}
	return sb, nil
}

// portBindings publishes each port mapping on the task's address under its
// own number (awsvpc: hostPort == containerPort).
func portBindings(spec ecs.TaskSpec) (nat.PortSet, nat.PortMap, error) {
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	for _, pm := range spec.Ports {
		proto := pm.Protocol
		if proto == "" {
			proto = ecs.ProtocolTCP
		}
		p, err := nat.NewPort(proto, strconv.Itoa(pm.ContainerPort))
		if err != nil {
			return nil, nil, fmt.Errorf("port mapping %d/%s: %w", pm.ContainerPort, proto, err)
		}
		exposed[p] = struct{}{}
		bindings[p] = []nat.PortBinding{{HostIP: spec.IP.String(), HostPort: strconv.Itoa(pm.ContainerPort)}}
	}
	return exposed, bindings, nil
}

// PauseContainerID is the ID of the container holding the task's network
// namespace.
func (sb *sandbox) PauseContainerID() string { return sb.pauseID }

// PID is the pause process's PID on the engine's host (0 if unknown): its
// /proc/PID/ns/net is the task's network namespace.
func (sb *sandbox) PID() int { return sb.pid }

// Close implements ecs.TaskSandbox: it removes the task's containers that
// are left, then the pause container (SIGKILL: it ignores SIGTERM).
func (sb *sandbox) Close(ctx context.Context) error {
	sb.mu.Lock()
	ids := append([]string(nil), sb.containers...)
	sb.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, removeForce(ctx, sb.e.cli, id))
	}
	errs = append(errs, removeForce(ctx, sb.e.cli, sb.pauseID))
	return errors.Join(errs...)
}

// ensureImage pulls ref unless the engine has it. A failure wraps
// ecs.ErrCannotPull.
func (e *Engine) ensureImage(ctx context.Context, ref string) error {
	ictx, cancel := context.WithTimeout(ctx, apiTimeout)
	_, err := e.cli.ImageInspect(ictx, ref)
	cancel()
	if err == nil {
		return nil
	}
	if !client.IsErrNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	e.log.Info("pulling image", "image", ref)
	pctx, cancel := context.WithTimeout(ctx, e.cfg.PullTimeout)
	defer cancel()
	rc, err := e.cli.ImagePull(pctx, ref, image.PullOptions{})
	if err == nil {
		err = readJSONStream(rc, io.Discard)
		rc.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: pull image %s: %w", ecs.ErrCannotPull, ref, err)
	}
	return nil
}

// readJSONStream reads a stream of Engine API progress messages (pull,
// import) to its end and returns the error one of them reports.
func readJSONStream(r io.Reader, progress io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Status      string `json:"status"`
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if m.Status != "" {
			fmt.Fprintln(progress, m.Status)
		}
	}
}
