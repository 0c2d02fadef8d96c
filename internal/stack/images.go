package stack

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/docker/docker/client"

	"github.com/portway/portway/internal/docker"
)

// imageField is the YAML path of the first container with an image ("" when
// no service runs one): such a stack needs a Docker engine.
func (c Config) imageField() string {
	for i, s := range c.Services {
		for j, ct := range s.Containers {
			if ct.Image != "" {
				return fmt.Sprintf("services[%d].containers[%d].image", i, j)
			}
		}
	}
	return ""
}

// dockerEngine makes the engine for the stack's image containers, nil when
// it has none.
func (c Config) dockerEngine(stateDir string, log *slog.Logger) (*docker.Engine, error) {
	field := c.imageField()
	if field == "" {
		return nil, nil
	}
	e, err := docker.New(docker.Config{Host: c.Tasks.Docker.Host, StateDir: stateDir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%s needs Docker: %w", field, err)
	}
	return e, nil
}

// ImageWarnings reports, for `portway config check`, each image of the
// stack that the Docker engine (tasks.docker.host, else $DOCKER_HOST or
// the default socket) does not have, or that Docker cannot be asked: `up`
// would have to pull it. Nothing when no container runs an image.
func (c Config) ImageWarnings(ctx context.Context) []string {
	field := c.imageField()
	if field == "" {
		return nil
	}
	cli, err := docker.NewClient(c.Tasks.Docker.Host)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", field, err)}
	}
	defer cli.Close()
	if err := docker.Ping(ctx, cli); err != nil {
		return []string{fmt.Sprintf("%s: needs Docker, and %v", field, err)}
	}
	var out []string
	for i, s := range c.Services {
		for j, ct := range s.Containers {
			if ct.Image == "" {
				continue
			}
			if _, err := cli.ImageInspect(ctx, ct.Image); client.IsErrNotFound(err) {
				out = append(out, fmt.Sprintf("services[%d].containers[%d].image: %s is not present in the Docker engine; `portway up` will try to pull it", i, j, ct.Image))
			} else if err != nil {
				out = append(out, fmt.Sprintf("services[%d].containers[%d].image: %s: %v", i, j, ct.Image, err))
			}
		}
	}
	return out
}
