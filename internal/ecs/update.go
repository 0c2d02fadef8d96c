package ecs

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// ErrTargetGroupChange is returned by UpdateService when the new
// configuration moves a service to another target group (or adds or
// removes its load balancer): ECS refuses that on a running service too.
var ErrTargetGroupChange = errors.New("targetGroup cannot change on a running service")

// UpdateService applies a changed configuration to an existing service,
// found by cfg.Name (ECS UpdateService with a new task definition). cfg is
// validated as Config.Validate does, errors naming fields
// "services[NAME]....". Compared with the configuration the service was
// last given (by New or UpdateService), defaults applied:
//
//   - a changed task definition (the containers — names, engine,
//     executable, command, env, secrets, dependsOn, healthCheck, essential,
//     portMappings, stopTimeout — or containerName, containerPort,
//     readinessPath, stopTimeout) starts a rolling deployment exactly like
//     Deploy: new tasks run the new definition, and the older deployments'
//     tasks are drained and stopped ("Deployment") once enough new ones are
//     RUNNING, never leaving fewer than the minimum healthy percent RUNNING.
//     Its id is returned.
//   - a changed desiredCount scales the service, as Scale. Only a change
//     of the configured count counts: a count set since by Scale stays
//     when the configuration still says what it said before.
//   - other settings (healthCheckGracePeriod, minimumHealthyPercent,
//     maximumPercent, readiness timeout and interval, back-off, stableAfter)
//     apply at once: the grace period and deployment bounds to every task,
//     readiness settings to tasks launched from now on.
//
// Several may apply at once. With nothing changed it returns "" and nil;
// without a task definition change it returns "" and applies the rest.
// Changing the target group is refused (ErrTargetGroupChange), as ECS
// does. An unknown name is ErrServiceNotFound: services cannot be added or
// removed at runtime (restart portway for that).
func (s *Supervisor) UpdateService(cfg ServiceConfig) (deploymentID string, err error) {
	f := fmt.Sprintf("services[%s]", cfg.Name)
	if errs := cfg.validate(f, s.cfg.Registrar != nil); len(errs) > 0 {
		return "", fmt.Errorf("ecs: update service %s: invalid config: %w", cfg.Name, errors.Join(errs...))
	}
	sv, err := s.service(cfg.Name)
	if err != nil {
		return "", err
	}
	spec := cfg.withDefaults()
	spec.Containers = cloneContainers(spec.Containers)
	next := spec
	next.Containers = cloneContainers(spec.Containers)
	if err := resolveContainers(&next); err != nil {
		return "", fmt.Errorf("ecs: update service: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return "", fmt.Errorf("ecs: update service %s: the supervisor is stopped", cfg.Name)
	}
	old := sv.spec
	if spec.TargetGroup != old.TargetGroup {
		return "", fmt.Errorf("ecs: update service %s: %s.targetGroup: %w (from %q to %q)",
			cfg.Name, f, ErrTargetGroupChange, old.TargetGroup, spec.TargetGroup)
	}
	newTaskDef := !sameTaskDefinition(old, spec)
	scaled := spec.DesiredCount != old.DesiredCount
	settings := !sameSettings(old, spec)
	if !newTaskDef && !scaled && !settings {
		return "", nil
	}
	if !newTaskDef {
		next.Containers = sv.cfg.Containers // as resolved when the tasks started
	}
	sv.cfg, sv.spec = next, spec
	if scaled {
		sv.desired = spec.DesiredCount
		s.log.Info("service scaled", "service", sv.name, "desiredCount", sv.desired)
	}
	if settings {
		s.log.Info("service settings updated", "service", sv.name)
	}
	if newTaskDef {
		d := s.newDeploymentLocked(sv)
		sv.revisions++
		d.revision = sv.revisions
		deploymentID = d.id
		s.log.Info("deployment started", "service", sv.name, "deployment", d.id, "reason", "task definition changed")
	}
	sv.poke()
	return deploymentID, nil
}

// newDeploymentLocked makes a new PRIMARY deployment: the service's tasks
// of older deployments are replaced by reconcile.
func (s *Supervisor) newDeploymentLocked(sv *service) *deployment {
	d := newDeployment(s.now(), sv.cfg, sv.spec)
	d.revision = sv.primary().revision
	sv.deployments = append(sv.deployments, d)
	sv.failures, sv.nextLaunch = 0, time.Time{}
	return d
}

// resolveContainers looks container executables up on $PATH (in place)
// and checks that nginx is installed for nginx-engine containers.
func resolveContainers(cfg *ServiceConfig) error {
	for i, c := range cfg.Containers {
		path, err := containerExecutable(c)
		if err != nil {
			return fmt.Errorf("service %s: container %s: %w", cfg.Name, c.Name, err)
		}
		if c.Executable != "" {
			cfg.Containers[i].Executable = path
		}
	}
	return nil
}

// sameTaskDefinition reports whether two defaulted service configurations
// run the same tasks.
func sameTaskDefinition(a, b ServiceConfig) bool {
	return a.ContainerName == b.ContainerName && a.ContainerPort == b.ContainerPort &&
		a.ReadinessPath == b.ReadinessPath && a.StopTimeout == b.StopTimeout &&
		reflect.DeepEqual(normalContainers(a.Containers), normalContainers(b.Containers))
}

// sameSettings reports whether two defaulted service configurations have
// the same settings besides the task definition, name, target group and
// desired count.
func sameSettings(a, b ServiceConfig) bool {
	strip := func(s ServiceConfig) ServiceConfig {
		s.Name, s.DesiredCount, s.TargetGroup = "", 0, ""
		s.ContainerName, s.ContainerPort, s.ReadinessPath, s.StopTimeout, s.Containers = "", 0, "", 0, nil
		return s
	}
	return reflect.DeepEqual(strip(a), strip(b)) // follows MinimumHealthyPercent
}

// normalContainers returns copies with empty lists as nil and defaults
// filled in, so that equal definitions compare equal however written.
func normalContainers(cs []ContainerConfig) []ContainerConfig {
	out := cloneContainers(cs)
	for i := range out {
		c := &out[i]
		if len(c.Command) == 0 {
			c.Command = nil
		}
		if len(c.Env) == 0 {
			c.Env = nil
		}
		if len(c.Secrets) == 0 {
			c.Secrets = nil
		}
		if len(c.DependsOn) == 0 {
			c.DependsOn = nil
		}
		if len(c.Ulimits) == 0 {
			c.Ulimits = nil
		}
		for j := range c.DependsOn {
			if c.DependsOn[j].Condition == "" {
				c.DependsOn[j].Condition = ConditionStart
			}
		}
		c.PortMappings = c.portMappings()
		if c.HealthCheck != nil {
			hc := c.HealthCheck.withDefaults()
			c.HealthCheck = &hc
		}
	}
	return out
}

// cloneContainers copies container configurations deeply, so that the
// caller's slices can change without touching the supervisor's.
func cloneContainers(cs []ContainerConfig) []ContainerConfig {
	if cs == nil {
		return nil
	}
	out := make([]ContainerConfig, len(cs))
	for i, c := range cs {
		c.Command = slices.Clone(c.Command)
		c.Env = slices.Clone(c.Env)
		c.Secrets = slices.Clone(c.Secrets)
		c.DependsOn = slices.Clone(c.DependsOn)
		c.PortMappings = slices.Clone(c.PortMappings)
		c.EntryPoint = slices.Clone(c.EntryPoint)
		c.Ulimits = slices.Clone(c.Ulimits)
		if c.HealthCheck != nil {
			hc := *c.HealthCheck
			hc.Command = slices.Clone(hc.Command)
			c.HealthCheck = &hc
		}
		out[i] = c
	}
	return out
}
