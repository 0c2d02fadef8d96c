package stack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/ecs"
)

// Preflight runs every check `portway up` makes before it binds a port or
// writes to the state dir, and `portway config check` reports the same:
// the config's validation (Validate: fields, references, each component's
// own Validate, certificate files, the wiring below), the control
// listener's rule, and what the machine must have for the tasks (exe is
// the portway binary the containers run; "" skips that one check). Every
// problem is named by its YAML path, one per line.
func (c Config) Preflight(exe string) error {
	if c.autoBlock() {
		c = c.WithBlock(DefaultBlock()) // as Start does, when the block is free
	}
	checks := []func() error{
		c.Validate,
		c.checkControlListen,
		func() error { return c.checkHost(exe) },
		// Checks of what else the machine must have (container images
		// present when Docker answers, …) belong here.
	}
	var errs []error
	for _, check := range checks {
		if err := check(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkControlListen: without TLS the control API listens on loopback only.
func (c Config) checkControlListen() error {
	return controlauth.CheckListen("control.listen", c.Control.Listen, c.serves(c.Control.TLS))
}

// checkHost checks the executables the tasks run (ecs.Config.CheckHost).
func (c Config) checkHost(exe string) error {
	return c.ECSComponent("/portway-state", exe, noRegistrar{}, nil).CheckHost()
}

// checkWiring checks how the parts fit together on the private side: the
// load balancer's address must not be one the tasks get, and the port a
// service's target group reaches must be the one its sidecar listens on.
func (c Config) checkWiring() []error {
	var errs []error
	if a, err := netip.ParseAddr(c.NLB.Address); err == nil {
		if p, err := netip.ParsePrefix(c.Tasks.Subnet); err == nil && p.Masked().Contains(a.Unmap()) {
			errs = append(errs, fmt.Errorf("tasks.subnet: %s holds nlb.address %s: a task could get the load balancer's address (use separate ranges, e.g. 127.77.0.10 and 127.77.1.0/24)", c.Tasks.Subnet, c.NLB.Address))
		}
	}
	for i, s := range c.Services {
		for j, ct := range s.Containers {
			if ct.Name != s.ContainerName || s.ContainerPort == 0 {
				continue
			}
			kind, listen, ok := sidecarListen(ct)
			if !ok {
				continue
			}
			_, port, err := net.SplitHostPort(strings.ReplaceAll(listen, "${TASK_IP}", "127.0.0.1"))
			if err != nil || port == fmt.Sprint(s.ContainerPort) {
				continue // a malformed --listen is the component's to report
			}
			errs = append(errs, fmt.Errorf("services[%d].containerPort: %d, but %s (services[%d].containers[%d]) listens on %s (its --listen): the target group and the readiness probe would find nothing there",
				i, s.ContainerPort, kind, i, j, listen))
		}
	}
	return errs
}

// sidecarListen is the address a sidecar container listens on: the
// built-in sidecar (`sidecar …` of the portway binary) or the nginx
// engine, from its --listen or the default.
func sidecarListen(ct ContainerConfig) (kind, listen string, ok bool) {
	switch {
	case ct.Engine == ecs.EngineNginx:
		kind, listen = "the nginx sidecar", ecs.DefaultNginxListen
	case ct.Executable == "" && len(ct.Command) > 0 && ct.Command[0] == "sidecar":
		kind, listen = "the built-in sidecar", DefaultSidecarListen
	default:
		return "", "", false
	}
	for i := 0; i < len(ct.Command); i++ {
		a := ct.Command[i]
		if v, found := strings.CutPrefix(a, "--listen="); found {
			listen = v
		} else if a == "--listen" && i+1 < len(ct.Command) {
			listen = ct.Command[i+1]
			i++
		}
	}
	return kind, listen, true
}

// DefaultSidecarListen is `portway sidecar`'s --listen default.
const DefaultSidecarListen = "127.0.0.1:9000"
