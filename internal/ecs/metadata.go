package ecs

import (
	"crypto/subtle"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/taskmeta"
)

// metadataSource serves the supervisor's live tasks to the task metadata
// endpoint (taskmeta.Source).
type metadataSource struct{ s *Supervisor }

var _ taskmeta.Source = metadataSource{}

// Metadata finds the live task holding the container with token.
func (m metadataSource) Metadata(token string) (taskmeta.Task, string, bool) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tasks {
		for _, c := range t.containers {
			if subtle.ConstantTimeCompare([]byte(c.token), []byte(token)) == 1 {
				return t.metadataLocked(s.cfg.Subnet, s.cfg.Region), c.cfg.Name, true
			}
		}
	}
	return taskmeta.Task{}, "", false
}

// metadataURIs are container c's ECS_CONTAINER_METADATA_URI_V4 and
// ECS_CONTAINER_METADATA_URI (version 3, same documents): on the
// endpoint's own loopback listener, which a host process reaches. A
// container in a network namespace of its own needs a listener inside it,
// handed to s.meta.Serve, and taskmeta.URI(its address, version, c.token).
func (s *Supervisor) metadataURIs(c *container) (v4, v3 string) {
	addr := s.meta.Addr()
	return taskmeta.URI(addr, "v4", c.token), taskmeta.URI(addr, "v3", c.token)
}

// metadataLocked is the task's metadata document. Call with Supervisor.mu
// held.
func (t *task) metadataLocked(subnet, region string) taskmeta.Task {
	family, rev := t.cfg.Name, strconv.Itoa(t.deployment.revision)
	doc := taskmeta.Task{
		Cluster:          taskmeta.ClusterARN(region),
		TaskARN:          taskmeta.TaskARN(region, t.id),
		Family:           family,
		Revision:         rev,
		ServiceName:      t.cfg.Name,
		DesiredStatus:    t.desiredStatus,
		KnownStatus:      t.lastStatus,
		AvailabilityZone: taskmeta.AvailabilityZone(region),
		LaunchType:       taskmeta.LaunchType,
		Containers:       make([]taskmeta.Container, 0, len(t.containers)),
	}
	if !t.stoppedAt.IsZero() {
		doc.ExecutionStoppedAt = timePtr(t.stoppedAt)
	}
	ip := t.ip.String()
	network := taskmeta.Network{
		NetworkMode:         "awsvpc",
		IPv4Addresses:       []string{ip},
		AttachmentIndex:     0,
		IPv4SubnetCIDRBlock: subnet,
		PrivateDNSName:      "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + region + ".compute.internal",
	}
	for _, c := range t.containers {
		id := containerID(t.id, c.cfg.Name)
		cm := taskmeta.Container{
			DockerID:   id,
			Name:       c.cfg.Name,
			DockerName: c.cfg.Name,
			Image:      c.image(),
			Labels: map[string]string{
				"com.amazonaws.ecs.cluster":                 doc.Cluster,
				"com.amazonaws.ecs.container-name":          c.cfg.Name,
				"com.amazonaws.ecs.task-arn":                doc.TaskARN,
				"com.amazonaws.ecs.task-definition-family":  family,
				"com.amazonaws.ecs.task-definition-version": rev,
			},
			DesiredStatus: t.desiredStatus,
			KnownStatus:   c.lastStatus,
			ExitCode:      c.exitCode,
			Type:          "NORMAL",
			ContainerARN:  taskmeta.ContainerARN(region, t.id, id),
			Networks:      []taskmeta.Network{network},
		}
		if !c.startedAt.IsZero() {
			cm.CreatedAt, cm.StartedAt = timePtr(c.startedAt), timePtr(c.startedAt)
		}
		if !c.finishedAt.IsZero() {
			cm.FinishedAt = timePtr(c.finishedAt)
		}
		if c.health != "" {
			cm.Health = &taskmeta.Health{Status: c.health}
		}
		for _, p := range c.cfg.portMappings() {
			cm.Ports = append(cm.Ports, taskmeta.Port{ContainerPort: p.ContainerPort, Protocol: p.Protocol,
				HostPort: p.ContainerPort, HostIP: ip})
		}
		doc.Containers = append(doc.Containers, cm)
	}
	return doc
}

// image is what the metadata reports as a host-process container's image:
// the program it runs.
func (c *container) image() string {
	switch {
	case c.cfg.Engine == EngineNginx:
		return "nginx"
	case c.cfg.Executable != "":
		return c.cfg.Executable
	default:
		return "portway"
	}
}

// containerID is a container's stand-in Docker ID, as Fargate forms it:
// the task ID, "-" and a number (here derived from the container's name).
func containerID(taskID, name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s-%d", taskID, h.Sum32())
}

func timePtr(t time.Time) *time.Time { return &t }
