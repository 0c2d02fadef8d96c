package nlb

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/portway/portway/internal/trace"
	"github.com/prometheus/client_golang/prometheus"
)

// Health check protocols.
const (
	ProtocolHTTP = "HTTP"
	ProtocolTCP  = "TCP"
)

// AWS defaults, applied when a value is zero.
const (
	DefaultInterval            = 30 * time.Second
	DefaultHTTPTimeout         = 6 * time.Second
	DefaultTCPTimeout          = 10 * time.Second
	DefaultHealthyThreshold    = 5
	DefaultUnhealthyThreshold  = 2
	DefaultMatcher             = "200-399"
	DefaultPath                = "/"
	DefaultDeregistrationDelay = 300 * time.Second
	DefaultIdleTimeout         = 350 * time.Second
	// MaxIdleTimeout is the AWS upper bound of tcp.idle_timeout.seconds.
	MaxIdleTimeout        = 6000 * time.Second
	DefaultConnectTimeout = time.Second
	DefaultAddress        = "127.0.0.1"
	DefaultName           = "portway-nlb"

	// maxInitialInterval bounds the check cadence while a target is in the
	// initial state, so a new target does not sit in "initial" for minutes.
	maxInitialInterval = time.Second
)

// Config describes one network load balancer.
type Config struct {
	// Name of the load balancer (AWS rules: 1-32 alphanumerics or hyphens).
	// Default "portway-nlb".
	Name string
	// Address is the IP the listeners bind, e.g. "127.77.0.10". Default 127.0.0.1.
	Address string
	// Listeners: one TCP listener per port, forwarding to a target group.
	Listeners []ListenerConfig
	// TargetGroups: the groups listeners forward to.
	TargetGroups []TargetGroupConfig
	// IdleTimeout is the default of ListenerConfig.IdleTimeout: a connection
	// is closed when no byte has moved either way for this long. Default 350s
	// (the AWS TCP idle timeout); at most 6000s.
	IdleTimeout time.Duration
	// ConnectTimeout bounds a dial to a target; on failure the next target is
	// tried. Default 1s.
	ConnectTimeout time.Duration
	// TargetCIDRs are the networks targets may be registered from, like the
	// VPC CIDRs of an AWS target group of type ip: RegisterTargets refuses
	// any other address with ValidationError. Default: loopback only
	// (127.0.0.0/8 and ::1/128).
	TargetCIDRs []string
	// Region is the AWS region the ARNs name (default awsid.DefaultRegion);
	// the account is awsid.Account.
	Region string

	// Metrics, when set, gets the load balancer's Prometheus collector
	// (metrics.go); nil: no metrics.
	Metrics prometheus.Registerer

	// Flows, when set, records every flow (its listener, target group,
	// target, connect time and bytes) for tracing requests across it.
	Flows *trace.FlowLog

	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// ListenerConfig is a TCP listener whose default action forwards to a group.
type ListenerConfig struct {
	Port        int    // 0 picks a free port (tests)
	TargetGroup string // name of a configured target group
	// IdleTimeout (AWS listener attribute tcp.idle_timeout.seconds) closes a
	// connection of this listener when no byte has moved either way for this
	// long. 0: Config.IdleTimeout (default 350s). At most 6000s; unlike AWS
	// (60s minimum) shorter values are allowed.
	IdleTimeout time.Duration
}

// TargetGroupConfig is a target group of type "ip" with protocol TCP.
type TargetGroupConfig struct {
	Name        string
	Port        int // traffic port, used for targets registered without a port
	HealthCheck HealthCheck
	// DeregistrationDelay (AWS deregistration_delay.timeout_seconds): how
	// long a deregistered target stays draining while it has connections.
	// 0 means the AWS default 300s; a negative value means no delay.
	DeregistrationDelay time.Duration
	// ConnectionTermination (AWS
	// deregistration_delay.connection_termination.enabled, default false):
	// when the deregistration delay ends, close the target's connections
	// that are still open. When false, as with AWS, the target becomes
	// unused at the end of the delay but its open connections go on until
	// either side closes them or the idle timeout ends them.
	ConnectionTermination bool
	// ProxyProtocolV2 (AWS proxy_protocol_v2.enabled, default false): send a
	// PROXY protocol v2 header (command PROXY, TCP over IPv4 or IPv6, source
	// the client's address, destination the listener's) on each target
	// connection before any other byte. As with AWS, health check
	// connections carry a header too, with command LOCAL and no addresses.
	ProxyProtocolV2 bool
	// UnhealthyConnectionTermination (AWS
	// target_health_state.unhealthy.connection_termination.enabled, default
	// true; nil means the default): when a target turns unhealthy, its
	// connections are reset, as an NLB sends a TCP RST on the client
	// connections of an unhealthy target, unless the group is failing open
	// (no healthy target: traffic goes to all). Connections of an unhealthy
	// target that survived a fail-open are reset when it ends. When false,
	// the target is first "unhealthy.draining" for UnhealthyDrainingInterval:
	// no new connections, existing ones go on; it is healthy again if it
	// recovers meanwhile, otherwise unhealthy and its connections reset.
	UnhealthyConnectionTermination *bool
	// UnhealthyDrainingInterval (AWS
	// target_health_state.unhealthy.draining_interval_seconds, 0..360000s,
	// default 0): how long a target that turned unhealthy stays
	// unhealthy.draining. Only with UnhealthyConnectionTermination false.
	UnhealthyDrainingInterval time.Duration
}

// MaxUnhealthyDrainingInterval is the AWS upper bound of
// target_health_state.unhealthy.draining_interval_seconds.
const MaxUnhealthyDrainingInterval = 360000 * time.Second

// terminatesUnhealthy reports whether connections to an unhealthy target
// are reset at once (AWS default).
func (tg TargetGroupConfig) terminatesUnhealthy() bool {
	return tg.UnhealthyConnectionTermination == nil || *tg.UnhealthyConnectionTermination
}

// HealthCheck configures the target group's health checks.
type HealthCheck struct {
	// Protocol "HTTP" or "TCP". Empty: HTTP when Path or Matcher is set,
	// otherwise TCP (the AWS default for a TCP target group).
	Protocol string
	Path     string // HTTP only, default "/"
	Port     int    // 0: the target's traffic port
	Matcher  string // HTTP only: "200", "200-399", "200,202,300-399"; default "200-399"
	// Interval between checks; default 30s. Sub-second values are allowed.
	Interval time.Duration
	// Timeout of one check; default 6s (HTTP) / 10s (TCP), or Interval/2 when
	// that default is not below Interval. Must be below Interval.
	Timeout            time.Duration
	HealthyThreshold   int // 2..10, default 5
	UnhealthyThreshold int // 2..10, default 2
}

// withDefaults returns a copy of hc with zero values replaced by defaults.
func (hc HealthCheck) withDefaults() HealthCheck {
	hc.Protocol = strings.ToUpper(hc.Protocol)
	if hc.Protocol == "" {
		hc.Protocol = ProtocolTCP
		if hc.Path != "" || hc.Matcher != "" {
			hc.Protocol = ProtocolHTTP
		}
	}
	if hc.Protocol == ProtocolHTTP {
		if hc.Path == "" {
			hc.Path = DefaultPath
		}
		if hc.Matcher == "" {
			hc.Matcher = DefaultMatcher
		}
	}
	if hc.Interval == 0 {
		hc.Interval = DefaultInterval
	}
	if hc.Timeout == 0 {
		hc.Timeout = DefaultHTTPTimeout
		if hc.Protocol == ProtocolTCP {
			hc.Timeout = DefaultTCPTimeout
		}
		if hc.Interval > 0 && hc.Timeout >= hc.Interval {
			hc.Timeout = hc.Interval / 2
		}
	}
	if hc.HealthyThreshold == 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold == 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	return hc
}

func (tg TargetGroupConfig) withDefaults() TargetGroupConfig {
	tg.HealthCheck = tg.HealthCheck.withDefaults()
	switch {
	case tg.DeregistrationDelay == 0:
		tg.DeregistrationDelay = DefaultDeregistrationDelay
	case tg.DeregistrationDelay < 0:
		tg.DeregistrationDelay = 0
	}
	if tg.UnhealthyConnectionTermination == nil {
		on := true
		tg.UnhealthyConnectionTermination = &on
	}
	return tg
}

// withDefaults returns a copy of c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if len(c.TargetCIDRs) == 0 {
		c.TargetCIDRs = DefaultTargetCIDRs()
	}
	c.Listeners = append([]ListenerConfig(nil), c.Listeners...)
	for i := range c.Listeners {
		if c.Listeners[i].IdleTimeout == 0 {
			c.Listeners[i].IdleTimeout = c.IdleTimeout
		}
	}
	tgs := make([]TargetGroupConfig, len(c.TargetGroups))
	for i, tg := range c.TargetGroups {
		tgs[i] = tg.withDefaults()
	}
	c.TargetGroups = tgs
	return c
}

// DefaultTargetCIDRs are the target CIDRs of a load balancer that configures
// none: loopback.
func DefaultTargetCIDRs() []string { return []string{"127.0.0.0/8", "::1/128"} }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

// Validate checks the configuration (after defaults for zero values) and
// returns every problem found, each naming its field.
func (c Config) Validate() error {
	return c.withDefaults().validate()
}

func (c Config) validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(c.Name) {
		add("name", "must be 1-32 alphanumerics or hyphens, not starting or ending with a hyphen")
	}
	if _, err := netip.ParseAddr(c.Address); err != nil {
		add("address", "must be an IP address, got %q", c.Address)
	}
	if c.IdleTimeout < 0 || c.IdleTimeout > MaxIdleTimeout {
		add("idleTimeout", "must be 0 (default 350s) or up to %s", MaxIdleTimeout)
	}
	if c.ConnectTimeout < 0 {
		add("connectTimeout", "must be >= 0")
	}
	for i, s := range c.TargetCIDRs {
		if _, err := netip.ParsePrefix(s); err != nil {
			add(fmt.Sprintf("targetCIDRs[%d]", i), "%q is not a CIDR such as 10.0.1.0/24", s)
		}
	}
	names := map[string]bool{}
	for i, tg := range c.TargetGroups {
		f := fmt.Sprintf("targetGroups[%d]", i)
		if !nameRE.MatchString(tg.Name) {
			add(f+".name", "must be 1-32 alphanumerics or hyphens, not starting or ending with a hyphen")
		} else if names[tg.Name] {
			add(f+".name", "duplicate target group %q", tg.Name)
		}
		names[tg.Name] = true
		if tg.Port < 1 || tg.Port > 65535 {
			add(f+".port", "must be 1..65535")
		}
		if tg.DeregistrationDelay > time.Hour {
			add(f+".deregistrationDelay", "must be at most 1h")
		}
		switch d := tg.UnhealthyDrainingInterval; {
		case d < 0 || d > MaxUnhealthyDrainingInterval:
			add(f+".unhealthyDrainingInterval", "must be 0..360000s, got %s", d)
		case d > 0 && tg.terminatesUnhealthy():
			// AWS: the interval "can only be configured when
			// target_health_state.unhealthy.connection_termination.enabled is false".
			add(f+".unhealthyDrainingInterval", "only with unhealthyConnectionTermination false (connections of an unhealthy target are reset at once otherwise)")
		}
		for _, e := range tg.HealthCheck.validate() {
			errs = append(errs, fmt.Errorf("%s.healthCheck.%w", f, e))
		}
	}
	if len(c.Listeners) == 0 {
		add("listeners", "at least one listener is required")
	}
	ports := map[int]bool{}
	for i, l := range c.Listeners {
		f := fmt.Sprintf("listeners[%d]", i)
		switch {
		case l.Port < 0 || l.Port > 65535:
			add(f+".port", "must be 0..65535")
		case l.Port != 0 && ports[l.Port]:
			add(f+".port", "duplicate listener port %d", l.Port)
		}
		ports[l.Port] = true
		if l.IdleTimeout < 0 || l.IdleTimeout > MaxIdleTimeout {
			add(f+".idleTimeout", "must be 0 (the load balancer's default) or up to %s", MaxIdleTimeout)
		}
		if l.TargetGroup == "" {
			add(f+".targetGroup", "is required")
		} else if !names[l.TargetGroup] {
			add(f+".targetGroup", "unknown target group %q", l.TargetGroup)
		}
	}
	return errors.Join(errs...)
}

// validate returns errors whose text starts with the field name relative to
// the health check, e.g. "healthyThreshold: must be 2..10".
func (hc HealthCheck) validate() []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch hc.Protocol {
	case ProtocolHTTP:
		if !strings.HasPrefix(hc.Path, "/") || len(hc.Path) > 1024 {
			add("path", "must start with / and be at most 1024 characters")
		}
		if _, err := parseMatcher(hc.Matcher); err != nil {
			add("matcher", "%v", err)
		}
	case ProtocolTCP:
		if hc.Path != "" {
			add("path", "not allowed with protocol TCP")
		}
		if hc.Matcher != "" {
			add("matcher", "not allowed with protocol TCP")
		}
	default:
		add("protocol", "must be HTTP or TCP, got %q", hc.Protocol)
	}
	if hc.Port < 0 || hc.Port > 65535 {
		add("port", "must be 0 (traffic port) or 1..65535")
	}
	if hc.Interval <= 0 || hc.Interval > 300*time.Second {
		add("interval", "must be > 0 and at most 300s")
	}
	switch {
	case hc.Timeout <= 0 || hc.Timeout > 120*time.Second:
		add("timeout", "must be > 0 and at most 120s")
	case hc.Interval > 0 && hc.Timeout >= hc.Interval:
		add("timeout", "must be less than interval (%s)", hc.Interval)
	}
	if hc.HealthyThreshold < 2 || hc.HealthyThreshold > 10 {
		add("healthyThreshold", "must be 2..10")
	}
	if hc.UnhealthyThreshold < 2 || hc.UnhealthyThreshold > 10 {
		add("unhealthyThreshold", "must be 2..10")
	}
	return errs
}
