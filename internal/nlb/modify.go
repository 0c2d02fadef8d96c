package nlb

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Target group attribute keys (all but proxy_protocol_v2.enabled can change
// at runtime).
const (
	AttrDeregistrationDelay            = "deregistration_delay.timeout_seconds"
	AttrConnectionTermination          = "deregistration_delay.connection_termination.enabled"
	AttrProxyProtocolV2                = "proxy_protocol_v2.enabled"
	AttrUnhealthyConnectionTermination = "target_health_state.unhealthy.connection_termination.enabled"
	AttrUnhealthyDrainingInterval      = "target_health_state.unhealthy.draining_interval_seconds"
)

// ModifyTargetGroupAttributes changes attributes of group and returns all
// of its attributes. The deregistration delay, connection termination and
// unhealthy-state attributes take effect for targets deregistered or turning
// unhealthy afterwards; the other attributes AWS knows are accepted only
// with the value they have (ValidationError otherwise, naming the key). All
// attributes are checked before any is applied.
func (lb *LoadBalancer) ModifyTargetGroupAttributes(group string, attrs []Attribute) ([]Attribute, error) {
	g, err := lb.group(group)
	if err != nil {
		return nil, err
	}
	if len(attrs) == 0 {
		return nil, fmt.Errorf("%w: At least one attribute is required", ErrValidation)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.cfg
	for _, a := range attrs {
		if err := setAttribute(&c, a); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrValidation, err)
		}
	}
	if c.UnhealthyDrainingInterval > 0 && c.terminatesUnhealthy() {
		return nil, fmt.Errorf("%w: %s can only be set when %s is false", ErrValidation,
			AttrUnhealthyDrainingInterval, AttrUnhealthyConnectionTermination)
	}
	g.cfg.DeregistrationDelay = c.DeregistrationDelay
	g.cfg.ConnectionTermination = c.ConnectionTermination
	g.cfg.UnhealthyConnectionTermination = c.UnhealthyConnectionTermination
	g.cfg.UnhealthyDrainingInterval = c.UnhealthyDrainingInterval
	g.log.Info("target group attributes modified", "attributes", attrs)
	return attributesOf(g.cfg), nil
}

// setAttribute applies one attribute to c; an attribute that cannot change
// at runtime is accepted only with its current value.
func setAttribute(c *TargetGroupConfig, a Attribute) error {
	secs := func(max int) (time.Duration, error) {
		n, err := strconv.Atoi(a.Value)
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("Attribute '%s' must be an integer from 0 to %d, got '%s'", a.Key, max, a.Value)
		}
		return time.Duration(n) * time.Second, nil
	}
	boolean := func() (bool, error) {
		switch a.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("Attribute '%s' must be 'true' or 'false', got '%s'", a.Key, a.Value)
	}
	var err error
	switch a.Key {
	case AttrDeregistrationDelay:
		c.DeregistrationDelay, err = secs(3600)
	case AttrConnectionTermination:
		c.ConnectionTermination, err = boolean()
	case AttrUnhealthyConnectionTermination:
		var on bool
		on, err = boolean()
		c.UnhealthyConnectionTermination = &on
	case AttrUnhealthyDrainingInterval:
		c.UnhealthyDrainingInterval, err = secs(int(MaxUnhealthyDrainingInterval / time.Second))
	default:
		for _, known := range attributesOf(*c) {
			if known.Key == a.Key {
				if known.Value != a.Value {
					return fmt.Errorf("Attribute '%s' cannot be changed in portway (it stays '%s')", a.Key, known.Value)
				}
				return nil
			}
		}
		return fmt.Errorf("Attribute key '%s' is not recognized", a.Key)
	}
	return err
}

// HealthCheckUpdate is the health check part of an ELBv2 ModifyTargetGroup
// request; nil fields stay as they are.
type HealthCheckUpdate struct {
	Protocol           *string // HTTP or TCP
	Port               *string // "traffic-port" or 1..65535
	Path               *string
	Enabled            *bool // only true: a Network Load Balancer's ip target group always checks
	IntervalSeconds    *int
	TimeoutSeconds     *int
	HealthyThreshold   *int
	UnhealthyThreshold *int
	Matcher            *string // HttpCode
}

// awsHealthCheckField names HealthCheck's fields as ModifyTargetGroup does.
var awsHealthCheckField = map[string]string{
	"protocol": "HealthCheckProtocol", "port": "HealthCheckPort", "path": "HealthCheckPath",
	"matcher": "Matcher.HttpCode", "interval": "HealthCheckIntervalSeconds", "timeout": "HealthCheckTimeoutSeconds",
	"healthyThreshold": "HealthyThresholdCount", "unhealthyThreshold": "UnhealthyThresholdCount",
}

// ModifyTargetGroup changes group's health check and returns the group.
// The registered targets keep their state; the next check (run at once)
// uses the new settings.
func (lb *LoadBalancer) ModifyTargetGroup(group string, u HealthCheckUpdate) (TargetGroupDescription, error) {
	g, err := lb.group(group)
	if err != nil {
		return TargetGroupDescription{}, err
	}
	hc, err := updateHealthCheck(g.config().HealthCheck, u)
	if err != nil {
		return TargetGroupDescription{}, fmt.Errorf("%w: %w", ErrValidation, err)
	}
	g.setHealthCheck(hc, newProber(hc, lb.dial, g.cfg.ProxyProtocolV2))
	return lb.describeGroup(g), nil
}

func updateHealthCheck(hc HealthCheck, u HealthCheckUpdate) (HealthCheck, error) {
	if u.Enabled != nil && !*u.Enabled {
		return hc, errors.New("HealthCheckEnabled: health checks cannot be disabled for a target group of type ip")
	}
	if u.Protocol != nil {
		p := strings.ToUpper(*u.Protocol)
		if p != hc.Protocol {
			hc.Protocol, hc.Path, hc.Matcher = p, "", ""
		}
	}
	if u.Path != nil {
		hc.Path = *u.Path
	}
	if u.Matcher != nil {
		hc.Matcher = *u.Matcher
	}
	if u.Port != nil {
		switch *u.Port {
		case "traffic-port":
			hc.Port = 0
		default:
			n, err := strconv.Atoi(*u.Port)
			if err != nil || n < 1 || n > 65535 {
				return hc, fmt.Errorf("HealthCheckPort: must be 'traffic-port' or 1..65535, got '%s'", *u.Port)
			}
			hc.Port = n
		}
	}
	secs := func(v *int, d *time.Duration) {
		if v != nil {
			*d = time.Duration(*v) * time.Second
		}
	}
	secs(u.IntervalSeconds, &hc.Interval)
	secs(u.TimeoutSeconds, &hc.Timeout)
	if u.HealthyThreshold != nil {
		hc.HealthyThreshold = *u.HealthyThreshold
	}
	if u.UnhealthyThreshold != nil {
		hc.UnhealthyThreshold = *u.UnhealthyThreshold
	}
	if hc.Protocol == ProtocolHTTP {
		hc.Path = cmpOr(hc.Path, DefaultPath)
		hc.Matcher = cmpOr(hc.Matcher, DefaultMatcher)
	}
	var msgs []string
	for _, e := range hc.validate() {
		field, msg, _ := strings.Cut(e.Error(), ": ")
		if f, ok := awsHealthCheckField[field]; ok {
			field = f
		}
		msgs = append(msgs, field+": "+msg)
	}
	if len(msgs) > 0 {
		return hc, errors.New(strings.Join(msgs, "; "))
	}
	return hc, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
