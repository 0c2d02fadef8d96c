package stack

import (
	"errors"
	"fmt"
	"reflect"
)

// ReloadResult says what a reload did.
type ReloadResult struct {
	// Deployments are the rolling deployments started, by service name.
	Deployments map[string]string
	// NeedRestart names the parts of the config that changed but only take
	// effect on the next `portway up`.
	NeedRestart []string
}

// Reload applies a changed stack config to the running stack: every
// service whose task definition changed gets a rolling deployment, a
// changed desired count scales, changed deployment settings apply at once.
// Changes to auth, the gateway, the load balancer or the set of services
// take effect on the next start, and are named in NeedRestart. The
// listeners' certificate files are read again. An invalid config changes
// nothing.
func (s *Stack) Reload(cfg Config) (ReloadResult, error) {
	res := ReloadResult{Deployments: map[string]string{}}
	if s.opts.Subnet != "" || cfg.autoBlock() {
		cfg = cfg.WithBlock(s.block) // the block stays the one Start claimed
	}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	if err := sameServiceSet(s.cfg.Services, cfg.Services); err != nil {
		return res, err
	}
	for _, part := range []struct {
		name     string
		old, new any
	}{
		{"auth", s.cfg.Auth, cfg.Auth},
		{"gateway", s.cfg.Gateway, cfg.Gateway},
		{"nlb", s.cfg.NLB, cfg.NLB},
		{"control", s.cfg.Control, cfg.Control},
		{"tasks", s.cfg.Tasks, cfg.Tasks},
		{"storage", s.cfg.Storage, cfg.Storage},
		{"tls", s.cfg.TLS, cfg.TLS},
	} {
		if !reflect.DeepEqual(part.old, part.new) {
			res.NeedRestart = append(res.NeedRestart, part.name)
		}
	}

	var errs []error
	// Certificate files are read again whatever changed: a renewed
	// certificate at the same path is the usual reason for a SIGHUP.
	if err := s.tls.ReloadCertificates(); err != nil {
		errs = append(errs, fmt.Errorf("tls: %w (the listeners keep their certificates)", err))
	}
	ec := cfg.ECSComponent(s.opts.StateDir, s.opts.Executable, registrar{s.lb}, nil)
	for i, sc := range ec.Services {
		id, err := s.tasks.UpdateService(sc)
		if err != nil {
			errs = append(errs, fmt.Errorf("services[%d] (%s): %w", i, sc.Name, err))
			continue
		}
		s.cfg.Services[i] = cfg.Services[i]
		if id != "" {
			res.Deployments[sc.Name] = id
		}
	}
	return res, errors.Join(errs...)
}

// sameServiceSet refuses adding, removing or reordering services at run
// time: the supervisor keeps the services it started with.
func sameServiceSet(old, new []ServiceConfig) error {
	if len(old) != len(new) {
		return fmt.Errorf("services: %d services in the new config, %d running: adding or removing a service needs a restart", len(new), len(old))
	}
	for i := range old {
		if old[i].Name != new[i].Name {
			return fmt.Errorf("services[%d].name: %q, running %q: renaming, adding or reordering services needs a restart", i, new[i].Name, old[i].Name)
		}
	}
	return nil
}
