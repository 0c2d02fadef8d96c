package stack

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portway/portway/internal/auth"
	"github.com/portway/portway/internal/ecs"
	"github.com/portway/portway/internal/gateway"
	"github.com/portway/portway/internal/nlb"
)

// The functions below turn the stack's YAML model into each component's own
// config. They copy; validation of each part's fields happens in the
// component's Validate.

// AuthComponent returns the auth server's config.
func (c Config) AuthComponent(stateDir string, log *slog.Logger) auth.Config {
	rs := make([]auth.ResourceServer, 0, len(c.Auth.ResourceServers))
	for _, r := range c.Auth.ResourceServers {
		rs = append(rs, auth.ResourceServer{Identifier: r.Identifier, Scopes: r.Scopes})
	}
	return auth.Config{
		Listen:          c.Auth.Listen,
		StateDir:        stateDir,
		UserPoolID:      c.Auth.UserPoolID,
		ResourceServers: rs,
		TokenValidity:   c.Auth.TokenValidity,
		IssuerStyle:     c.Auth.IssuerStyle,
		Region:          c.Auth.Region,
		Issuer:          c.Auth.Issuer,
		Logger:          log,
	}
}

// AllScopes lists every full scope string of every resource server.
func (c Config) AllScopes() []string {
	var out []string
	for _, r := range c.Auth.ResourceServers {
		for _, s := range r.Scopes {
			out = append(out, r.Identifier+"/"+s)
		}
	}
	return out
}

// GatewayComponent returns the gateway's config, given where the
// authorizer finds its issuer and keys.
func (c Config) GatewayComponent(issuer, jwksURL string, log *slog.Logger) gateway.Config {
	res := make([]gateway.Resource, 0, len(c.Gateway.Resources))
	for _, r := range c.Gateway.Resources {
		gr := gateway.Resource{Path: r.Path}
		for _, m := range r.Methods {
			gr.Methods = append(gr.Methods, gateway.Method{
				HTTPMethod:    m.HTTPMethod,
				Authorization: m.Authorization,
				Scopes:        m.Scopes,

				IdentityHeader: m.IdentityHeader,
				Integration: gateway.Integration{
					Type:           m.Integration.Type,
					ConnectionType: m.Integration.ConnectionType,
					URI:            m.Integration.URI,
					Timeout:        m.Integration.Timeout,
					Mock:           m.Integration.Mock,

					RequestParameters: m.Integration.RequestParameters,
					HTTPMethod:        m.Integration.HTTPMethod,
				},
			})
		}
		res = append(res, gr)
	}
	gc := gateway.Config{
		Listen:                c.Gateway.Listen,
		Stage:                 c.Gateway.Stage,
		StageVariables:        c.Gateway.StageVariables,
		Resources:             res,
		Authorizer:            gateway.AuthorizerConfig{Issuer: issuer, JWKSURL: jwksURL},
		AllowEncodedSlashes:   c.Gateway.AllowEncodedSlashes,
		ForwardedHeaders:      c.Gateway.ForwardedHeaders,
		MaxIntegrationTimeout: c.Gateway.MaxIntegrationTimeout,
		Stages:                c.Gateway.Stages,
		Domains:               c.Gateway.Domains,
		Hosts:                 c.Gateway.Hosts,
		Throttle:              c.Gateway.Throttle,
		Timeouts:              c.Gateway.Timeouts,
		Logger:                log,
	}
	gc.Responses = map[string]gateway.ResponseTemplate{}
	if c.Gateway.Responses == "storage" {
		gc.Responses = gateway.StorageResponses()
	}
	for typ, tmpl := range c.Gateway.ResponseOverrides {
		gc.Responses[typ] = tmpl
	}
	return gc
}

// NLBComponent returns the load balancer's config.
func (c Config) NLBComponent(log *slog.Logger) nlb.Config {
	nc := nlb.Config{Name: c.NLB.Name, Address: c.NLB.Address, IdleTimeout: c.NLB.IdleTimeout,
		TargetCIDRs: c.NLB.TargetCIDRs, Region: c.Region(), Logger: log}
	for _, l := range c.NLB.Listeners {
		nc.Listeners = append(nc.Listeners, nlb.ListenerConfig{Port: l.Port, TargetGroup: l.TargetGroup, IdleTimeout: l.IdleTimeout})
	}
	for _, tg := range c.NLB.TargetGroups {
		hc := tg.HealthCheck
		nc.TargetGroups = append(nc.TargetGroups, nlb.TargetGroupConfig{
			Name: tg.Name,
			Port: tg.Port,
			HealthCheck: nlb.HealthCheck{
				Protocol:           hc.Protocol,
				Path:               hc.Path,
				Port:               int(hc.Port),
				Matcher:            hc.Matcher,
				Interval:           hc.Interval,
				Timeout:            hc.Timeout,
				HealthyThreshold:   hc.HealthyThreshold,
				UnhealthyThreshold: hc.UnhealthyThreshold,
			},
			DeregistrationDelay:   tg.DeregistrationDelay,
			ConnectionTermination: tg.ConnectionTermination,
			ProxyProtocolV2:       tg.ProxyProtocolV2,

			UnhealthyConnectionTermination: tg.UnhealthyConnectionTermination,
			UnhealthyDrainingInterval:      tg.UnhealthyDrainingInterval,
		})
	}
	return nc
}

// upTargetCIDRs are the load balancer's target CIDRs under `portway up`:
// nlb.targetCIDRs and always tasks.subnet, where the services' own tasks
// get their addresses.
func (c Config) upTargetCIDRs() []string {
	out := append([]string(nil), c.NLB.TargetCIDRs...)
	for _, s := range out {
		if s == c.Tasks.Subnet {
			return out
		}
	}
	return append(out, c.Tasks.Subnet)
}

// ECSComponent returns the supervisor's config. Containers run exe.
func (c Config) ECSComponent(stateDir, exe string, reg ecs.Registrar, log *slog.Logger) ecs.Config {
	ec := ecs.Config{
		StateDir:   stateDir,
		Executable: exe,
		Subnet:     c.Tasks.Subnet,
		Region:     c.Region(),
		Registrar:  reg,
		Logger:     log,
	}
	for _, s := range c.Services {
		sc := ecs.ServiceConfig{
			Name:          s.Name,
			DesiredCount:  s.DesiredCount,
			TargetGroup:   s.TargetGroup,
			ContainerName: s.ContainerName,
			ContainerPort: s.ContainerPort,
			ReadinessPath: s.ReadinessPath,
			StopTimeout:   s.StopTimeout,

			HealthCheckGracePeriod: s.HealthCheckGracePeriod,
			MinimumHealthyPercent:  s.MinimumHealthyPercent,
			MaximumPercent:         s.MaximumPercent,

			DeploymentCircuitBreaker: s.DeploymentCircuitBreaker,
		}
		for _, ct := range s.Containers {
			args := make([]string, len(ct.Command))
			for i, a := range ct.Command {
				args[i] = strings.ReplaceAll(a, "${STATE_DIR}", filepath.Clean(stateDir))
			}
			essential := ct.Essential == nil || *ct.Essential
			env := slices.Clone(ct.Env)
			for _, kv := range ct.Environment {
				env = append(env, kv.Name+"="+kv.Value)
			}
			if c.Storage.Store != "" && ct.Image == "" {
				// The storage apps' DSN; an image container gets only what
				// its definition says.
				env = append(env, "PORTWAY_STORE="+c.Storage.Store)
			}
			if ct.Image != "" && len(ct.Command) == 0 {
				args = nil // the image's CMD
			}
			sc.Containers = append(sc.Containers, ecs.ContainerConfig{
				Name: ct.Name, Executable: ct.Executable, Command: args, Env: env, Essential: essential,
				Engine: ct.Engine, Secrets: ct.Secrets, DependsOn: ct.DependsOn, HealthCheck: ct.HealthCheck,
				PortMappings: ct.PortMappings, StopTimeout: ct.StopTimeout,

				Image: ct.Image, EntryPoint: ct.EntryPoint, WorkingDirectory: ct.WorkingDirectory, User: ct.User,
				ReadonlyRootFilesystem: ct.ReadonlyRoot, Ulimits: ct.Ulimits,
				Memory: ct.Memory, MemoryReservation: ct.MemoryReservation, CPU: ct.CPU,
			})
		}
		ec.Services = append(ec.Services, sc)
	}
	return ec
}

// UseNginxSidecar makes every built-in sidecar container ("sidecar …") run
// as the system's nginx with a generated config instead.
func (c *Config) UseNginxSidecar() {
	for i := range c.Services {
		for j := range c.Services[i].Containers {
			ct := &c.Services[i].Containers[j]
			if len(ct.Command) > 0 && ct.Command[0] == "sidecar" {
				ct.Engine = "nginx"
			}
		}
	}
}
