package nlb

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type matcherJSON struct {
	HttpCode string `json:"HttpCode"`
}

// targetGroupJSON is an ELBv2 TargetGroup; the Millis and
// DeregistrationDelaySeconds fields are portway additions (AWS intervals are
// whole seconds, portway's may be shorter).
type targetGroupJSON struct {
	TargetGroupArn             string       `json:"TargetGroupArn"`
	TargetGroupName            string       `json:"TargetGroupName"`
	Protocol                   string       `json:"Protocol"`
	Port                       int          `json:"Port"`
	VpcId                      string       `json:"VpcId"`
	HealthCheckProtocol        string       `json:"HealthCheckProtocol"`
	HealthCheckPort            string       `json:"HealthCheckPort"`
	HealthCheckEnabled         bool         `json:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int          `json:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int          `json:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int          `json:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int          `json:"UnhealthyThresholdCount"`
	HealthCheckPath            string       `json:"HealthCheckPath,omitempty"`
	Matcher                    *matcherJSON `json:"Matcher,omitempty"`
	LoadBalancerArns           []string     `json:"LoadBalancerArns"`
	TargetType                 string       `json:"TargetType"`
	IpAddressType              string       `json:"IpAddressType"`
	HealthCheckIntervalMillis  int64        `json:"HealthCheckIntervalMillis"`
	HealthCheckTimeoutMillis   int64        `json:"HealthCheckTimeoutMillis"`
	DeregistrationDelaySeconds int          `json:"DeregistrationDelaySeconds"`
}

// attributeJSON is an ELBv2 attribute: values are strings, as in AWS.
type attributeJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type forwardTarget struct {
	TargetGroupArn string `json:"TargetGroupArn"`
	Weight         int    `json:"Weight"`
}

type actionJSON struct {
	Type           string `json:"Type"`
	TargetGroupArn string `json:"TargetGroupArn"`
	ForwardConfig  struct {
		TargetGroups []forwardTarget `json:"TargetGroups"`
	} `json:"ForwardConfig"`
}

// listenerJSON is an ELBv2 Listener; Address (the bound ip:port) is a
// portway addition.
type listenerJSON struct {
	ListenerArn     string       `json:"ListenerArn"`
	LoadBalancerArn string       `json:"LoadBalancerArn"`
	Port            int          `json:"Port"`
	Protocol        string       `json:"Protocol"`
	DefaultActions  []actionJSON `json:"DefaultActions"`
	Address         string       `json:"Address,omitempty"`
}

// seconds rounds up, so a sub-second interval never shows as 0.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func (lb *LoadBalancer) describeGroup(g *targetGroup) targetGroupJSON {
	hc := g.cfg.HealthCheck
	j := targetGroupJSON{
		TargetGroupArn:             g.arn,
		TargetGroupName:            g.cfg.Name,
		Protocol:                   "TCP",
		Port:                       g.cfg.Port,
		VpcId:                      "vpc-portway",
		HealthCheckProtocol:        hc.Protocol,
		HealthCheckPort:            "traffic-port",
		HealthCheckEnabled:         true,
		HealthCheckIntervalSeconds: seconds(hc.Interval),
		HealthCheckTimeoutSeconds:  seconds(hc.Timeout),
		HealthyThresholdCount:      hc.HealthyThreshold,
		UnhealthyThresholdCount:    hc.UnhealthyThreshold,
		LoadBalancerArns:           []string{},
		TargetType:                 "ip",
		IpAddressType:              "ipv4",
		HealthCheckIntervalMillis:  hc.Interval.Milliseconds(),
		HealthCheckTimeoutMillis:   hc.Timeout.Milliseconds(),
		DeregistrationDelaySeconds: seconds(g.cfg.DeregistrationDelay),
	}
	if hc.Port != 0 {
		j.HealthCheckPort = strconv.Itoa(hc.Port)
	}
	if hc.Protocol == ProtocolHTTP {
		j.HealthCheckPath = hc.Path
		j.Matcher = &matcherJSON{HttpCode: hc.Matcher}
	}
	if g.inUse {
		j.LoadBalancerArns = []string{lb.arn}
	}
	if a, err := netip.ParseAddr(lb.cfg.Address); err == nil && a.Is6() && !a.Is4In6() {
		j.IpAddressType = "ipv6"
	}
	return j
}

type describeTargetGroupsRequest struct {
	Names           []string
	TargetGroupArns []string
	LoadBalancerArn string
}

func (lb *LoadBalancer) apiDescribeTargetGroups(r *http.Request) (any, error) {
	var req describeTargetGroupsRequest
	q := r.URL.Query()
	for _, key := range []string{"Names", "TargetGroupName", "Names.member.1"} {
		for _, v := range q[key] {
			req.Names = append(req.Names, strings.Split(v, ",")...)
		}
	}
	for _, v := range q["TargetGroupArns"] {
		req.TargetGroupArns = append(req.TargetGroupArns, strings.Split(v, ",")...)
	}
	req.LoadBalancerArn = q.Get("LoadBalancerArn")
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	var out []targetGroupJSON
	switch {
	case len(req.Names) > 0 || len(req.TargetGroupArns) > 0:
		for _, name := range req.Names {
			g, err := lb.group(strings.TrimSpace(name))
			if err != nil {
				return nil, err
			}
			out = append(out, lb.describeGroup(g))
		}
		for _, arn := range req.TargetGroupArns {
			g, err := lb.resolveGroup("", strings.TrimSpace(arn))
			if err != nil {
				return nil, err
			}
			out = append(out, lb.describeGroup(g))
		}
	case req.LoadBalancerArn != "" && req.LoadBalancerArn != lb.arn:
		return nil, &apiError{status: http.StatusBadRequest, Code: "LoadBalancerNotFound",
			Message: fmt.Sprintf("One or more load balancers not found: '%s'", req.LoadBalancerArn)}
	default:
		for _, name := range lb.TargetGroupNames() {
			if g := lb.groups[name]; req.LoadBalancerArn == "" || g.inUse {
				out = append(out, lb.describeGroup(g))
			}
		}
	}
	if out == nil {
		out = []targetGroupJSON{}
	}
	return map[string]any{"TargetGroups": out}, nil
}

func (lb *LoadBalancer) apiDescribeListeners(r *http.Request) (any, error) {
	var req struct {
		LoadBalancerArn string
		ListenerArns    []string
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	lb.mu.Lock()
	bound := lb.listeners
	lb.mu.Unlock()
	out := []listenerJSON{}
	for i, l := range lb.cfg.Listeners {
		g := lb.groups[l.TargetGroup]
		j := listenerJSON{
			ListenerArn:     listenerARN(lb.cfg.Region, lb.cfg.Name, i),
			LoadBalancerArn: lb.arn,
			Port:            l.Port,
			Protocol:        "TCP",
		}
		if i < len(bound) {
			j.Port = int(bound[i].addr.Port())
			j.Address = bound[i].addr.String()
		}
		a := actionJSON{Type: "forward", TargetGroupArn: g.arn}
		a.ForwardConfig.TargetGroups = []forwardTarget{{TargetGroupArn: g.arn, Weight: 1}}
		j.DefaultActions = []actionJSON{a}
		out = append(out, j)
	}
	return map[string]any{"Listeners": out}, nil
}

// apiDescribeTargetGroupAttributes answers with the group's attributes
// under their AWS keys (TargetGroupArn, or TargetGroupName as a portway
// convenience).
func (lb *LoadBalancer) apiDescribeTargetGroupAttributes(r *http.Request) (any, error) {
	req := struct{ TargetGroupArn, TargetGroupName string }{
		TargetGroupArn:  r.URL.Query().Get("TargetGroupArn"),
		TargetGroupName: r.URL.Query().Get("TargetGroupName"),
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	g, err := lb.resolveGroup(req.TargetGroupName, req.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	c := g.cfg
	return map[string]any{"Attributes": []attributeJSON{
		{"deregistration_delay.timeout_seconds", strconv.Itoa(seconds(c.DeregistrationDelay))},
		{"deregistration_delay.connection_termination.enabled", strconv.FormatBool(c.ConnectionTermination)},
		{"proxy_protocol_v2.enabled", strconv.FormatBool(c.ProxyProtocolV2)},
		{"target_health_state.unhealthy.connection_termination.enabled", strconv.FormatBool(c.terminatesUnhealthy())},
		{"target_health_state.unhealthy.draining_interval_seconds", strconv.Itoa(seconds(c.UnhealthyDrainingInterval))},
		{"preserve_client_ip.enabled", "false"},
		{"stickiness.enabled", "false"},
		{"stickiness.type", "source_ip"},
		{"load_balancing.cross_zone.enabled", "use_load_balancer_configuration"},
	}}, nil
}

// apiDescribeListenerAttributes answers with a listener's attributes
// (ListenerArn, as DescribeListeners reports it).
func (lb *LoadBalancer) apiDescribeListenerAttributes(r *http.Request) (any, error) {
	req := struct{ ListenerArn string }{ListenerArn: r.URL.Query().Get("ListenerArn")}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.ListenerArn == "" {
		return nil, validationError("ListenerArn is required")
	}
	for i, l := range lb.cfg.Listeners {
		if listenerARN(lb.cfg.Region, lb.cfg.Name, i) == req.ListenerArn {
			return map[string]any{"Attributes": []attributeJSON{
				{"tcp.idle_timeout.seconds", strconv.Itoa(seconds(l.IdleTimeout))},
			}}, nil
		}
	}
	return nil, &apiError{status: http.StatusBadRequest, Code: "ListenerNotFound",
		Message: fmt.Sprintf("One or more listeners not found: '%s'", req.ListenerArn)}
}
