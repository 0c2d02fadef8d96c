package nlb

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// Errors returned by the registration API; the control API maps them to the
// ELBv2 error codes of the same name.
var (
	ErrTargetGroupNotFound = errors.New("TargetGroupNotFound")
	ErrInvalidTarget       = errors.New("InvalidTarget")
	ErrValidation          = errors.New("ValidationError")
)

// Target is a registered target: an IP address and a port.
type Target struct {
	ID   string `json:"Id"`
	Port int    `json:"Port"`
}

// TargetHealth is the health of a target, as in ELBv2. Reason and
// Description are empty for healthy targets.
type TargetHealth struct {
	State       string `json:"State"`
	Reason      string `json:"Reason,omitempty"`
	Description string `json:"Description,omitempty"`
}

// TargetHealthDescription is one entry of DescribeTargetHealth. Connections
// (since registration) and ActiveConnections are portway additions.
type TargetHealthDescription struct {
	Target            Target       `json:"Target"`
	HealthCheckPort   string       `json:"HealthCheckPort"`
	TargetHealth      TargetHealth `json:"TargetHealth"`
	Connections       int64        `json:"Connections"`
	ActiveConnections int64        `json:"ActiveConnections"`
	// LastHealthCheck is the target's last health check (none yet: nil).
	LastHealthCheck *HealthCheckResult `json:"LastHealthCheck,omitempty"`
}

// target is the state of one registered target. All fields but addr and
// hash are guarded by the owning group's mutex.
type target struct {
	addr   netip.AddrPort // traffic address
	hash   uint64
	hcAddr netip.AddrPort // health check address

	hm          *healthMachine
	draining    bool
	drainTimer  *time.Timer
	drainGen    int                // tells a stale drain timer from the current one
	cancelCheck context.CancelFunc // nil when no checker runs
	// unhealthyDraining: unhealthy, but its connections drain until
	// unhealthyTimer fires (TargetGroupConfig.UnhealthyDrainingInterval).
	unhealthyDraining bool
	unhealthyTimer    *time.Timer
	unhealthyGen      int           // tells a stale unhealthy timer from the current one
	kick              chan struct{} // buffered(1): run a check now

	// leaving mirrors draining (and removal) for readers without the
	// group's lock: in-process flows report it (linkConn.Draining).
	leaving atomic.Bool

	conns       map[flow]struct{} // dialing or established
	connections int64             // established since registration
	active      int64             // established and still open

	lastCheck *HealthCheckResult        // nil before the first check; replaced, never changed
	checks    [len(checkResults)]uint64 // health checks by result
	bytes     flowBytes                 // bytes to and from the target (metrics.go)
}

func newTarget(addr netip.AddrPort, hcPort int, hc HealthCheck, now time.Time) *target {
	return &target{
		addr:   addr,
		hcAddr: healthCheckAddr(addr, hcPort),
		hash:   hashString(addr.String()),
		hm:     newHealthMachine(hc, now),
		kick:   make(chan struct{}, 1),
		conns:  map[flow]struct{}{},
	}
}

// healthCheckAddr is where a target at addr is checked: hcPort, or the
// traffic port when hcPort is 0.
func healthCheckAddr(addr netip.AddrPort, hcPort int) netip.AddrPort {
	if hcPort == 0 {
		return addr
	}
	return netip.AddrPortFrom(addr.Addr(), uint16(hcPort))
}

func (t *target) id() Target {
	return Target{ID: t.addr.Addr().String(), Port: int(t.addr.Port())}
}

func (t *target) String() string { return t.addr.String() }

// checkNow asks the health checker for an immediate check (coalesced).
func (t *target) checkNow() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// parseTargets validates targets and fills in the group's traffic port for a
// zero Port.
func parseTargets(ts []Target, defaultPort int) ([]netip.AddrPort, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: At least one target is required", ErrValidation)
	}
	if len(ts) > 1000 {
		return nil, fmt.Errorf("%w: At most 1000 targets per request", ErrValidation)
	}
	out := make([]netip.AddrPort, 0, len(ts))
	for _, t := range ts {
		ip, err := netip.ParseAddr(t.ID)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("%w: The IP address '%s' is not a valid IP address", ErrInvalidTarget, t.ID)
		}
		port := t.Port
		if port == 0 {
			port = defaultPort
		}
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("%w: Port %d of target '%s' must be 1..65535", ErrValidation, t.Port, t.ID)
		}
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	return out, nil
}

func healthCheckPortString(hcPort int, t netip.AddrPort) string {
	if hcPort == 0 {
		return strconv.Itoa(int(t.Port()))
	}
	return strconv.Itoa(hcPort)
}
