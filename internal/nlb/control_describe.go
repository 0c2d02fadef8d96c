package nlb

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The ELBv2 model both control front doors serve: the JSON API under
// /elbv2/ (control.go) and the AWS Query protocol (internal/awsapi/elbv2api)
// call these methods, so a change made through either is the same change.

// Matcher is an ELBv2 Matcher.
type Matcher struct {
	HttpCode string `json:"HttpCode"`
}

// TargetGroupDescription is an ELBv2 TargetGroup; the Millis and
// DeregistrationDelaySeconds fields are portway additions (AWS intervals are
// whole seconds, portway's may be shorter).
type TargetGroupDescription struct {
	TargetGroupArn             string   `json:"TargetGroupArn"`
	TargetGroupName            string   `json:"TargetGroupName"`
	Protocol                   string   `json:"Protocol"`
	Port                       int      `json:"Port"`
	VpcId                      string   `json:"VpcId"`
	HealthCheckProtocol        string   `json:"HealthCheckProtocol"`
	HealthCheckPort            string   `json:"HealthCheckPort"`
	HealthCheckEnabled         bool     `json:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int      `json:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int      `json:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int      `json:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int      `json:"UnhealthyThresholdCount"`
	HealthCheckPath            string   `json:"HealthCheckPath,omitempty"`
	Matcher                    *Matcher `json:"Matcher,omitempty"`
	LoadBalancerArns           []string `json:"LoadBalancerArns"`
	TargetType                 string   `json:"TargetType"`
	IpAddressType              string   `json:"IpAddressType"`
	HealthCheckIntervalMillis  int64    `json:"HealthCheckIntervalMillis"`
	HealthCheckTimeoutMillis   int64    `json:"HealthCheckTimeoutMillis"`
	DeregistrationDelaySeconds int      `json:"DeregistrationDelaySeconds"`
}

// Attribute is an ELBv2 attribute: values are strings, as in AWS.
type Attribute struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// ForwardTarget is an ELBv2 TargetGroupTuple.
type ForwardTarget struct {
	TargetGroupArn string `json:"TargetGroupArn"`
	Weight         int    `json:"Weight"`
}

// Action is an ELBv2 listener action (always "forward" here).
type Action struct {
	Type           string `json:"Type"`
	TargetGroupArn string `json:"TargetGroupArn"`
	ForwardConfig  struct {
		TargetGroups []ForwardTarget `json:"TargetGroups"`
	} `json:"ForwardConfig"`
}

// ListenerDescription is an ELBv2 Listener; Address (the bound ip:port) is a
// portway addition.
type ListenerDescription struct {
	ListenerArn     string   `json:"ListenerArn"`
	LoadBalancerArn string   `json:"LoadBalancerArn"`
	Port            int      `json:"Port"`
	Protocol        string   `json:"Protocol"`
	DefaultActions  []Action `json:"DefaultActions"`
	Address         string   `json:"Address,omitempty"`
}

// LoadBalancerDescription is an ELBv2 LoadBalancer. DNSName is the address
// the listeners bind (there is no DNS name).
type LoadBalancerDescription struct {
	LoadBalancerArn  string    `json:"LoadBalancerArn"`
	LoadBalancerName string    `json:"LoadBalancerName"`
	DNSName          string    `json:"DNSName"`
	CreatedTime      time.Time `json:"CreatedTime"`
	Scheme           string    `json:"Scheme"`
	VpcId            string    `json:"VpcId"`
	State            string    `json:"State"`
	Type             string    `json:"Type"`
	IpAddressType    string    `json:"IpAddressType"`
}

// seconds rounds up, so a sub-second interval never shows as 0.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func (lb *LoadBalancer) ipAddressType() string {
	if a, err := netip.ParseAddr(lb.cfg.Address); err == nil && a.Is6() && !a.Is4In6() {
		return "ipv6"
	}
	return "ipv4"
}

func (lb *LoadBalancer) describeGroup(g *targetGroup) TargetGroupDescription {
	c := g.config()
	hc := c.HealthCheck
	j := TargetGroupDescription{
		TargetGroupArn:             g.arn,
		TargetGroupName:            c.Name,
		Protocol:                   "TCP",
		Port:                       c.Port,
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
		IpAddressType:              lb.ipAddressType(),
		HealthCheckIntervalMillis:  hc.Interval.Milliseconds(),
		HealthCheckTimeoutMillis:   hc.Timeout.Milliseconds(),
		DeregistrationDelaySeconds: seconds(c.DeregistrationDelay),
	}
	if hc.Port != 0 {
		j.HealthCheckPort = strconv.Itoa(hc.Port)
	}
	if hc.Protocol == ProtocolHTTP {
		j.HealthCheckPath = hc.Path
		j.Matcher = &Matcher{HttpCode: hc.Matcher}
	}
	if g.inUse {
		j.LoadBalancerArns = []string{lb.arn}
	}
	return j
}

// DescribeLoadBalancer describes the load balancer.
func (lb *LoadBalancer) DescribeLoadBalancer() LoadBalancerDescription {
	return LoadBalancerDescription{
		LoadBalancerArn:  lb.arn,
		LoadBalancerName: lb.cfg.Name,
		DNSName:          lb.cfg.Address,
		CreatedTime:      lb.created,
		Scheme:           "internal",
		VpcId:            "vpc-portway",
		State:            "active",
		Type:             "network",
		IpAddressType:    lb.ipAddressType(),
	}
}

// LoadBalancerNotFound is the error for load balancers that are not this
// one, worded as AWS words it.
func (lb *LoadBalancer) loadBalancerNotFound(arn string) error {
	return &APIError{Status: http.StatusBadRequest, Code: "LoadBalancerNotFound",
		Message: fmt.Sprintf("One or more load balancers not found: '%s'", arn)}
}

// TargetGroupName returns the name of the target group with ARN arn
// (ErrTargetGroupNotFound when there is none).
func (lb *LoadBalancer) TargetGroupName(arn string) (string, error) {
	g, err := lb.resolveGroup("", arn)
	if err != nil {
		return "", err
	}
	return g.cfg.Name, nil
}

// DescribeTargetGroups describes the groups named by names and arns (in
// that order; any unknown one fails the call with ErrTargetGroupNotFound),
// or with neither every group, or only those in use when loadBalancerArn
// (which must be this load balancer's) is set.
func (lb *LoadBalancer) DescribeTargetGroups(names, arns []string, loadBalancerArn string) ([]TargetGroupDescription, error) {
	out := []TargetGroupDescription{}
	switch {
	case len(names) > 0 || len(arns) > 0:
		for _, name := range names {
			g, err := lb.group(strings.TrimSpace(name))
			if err != nil {
				return nil, err
			}
			out = append(out, lb.describeGroup(g))
		}
		for _, arn := range arns {
			g, err := lb.resolveGroup("", strings.TrimSpace(arn))
			if err != nil {
				return nil, err
			}
			out = append(out, lb.describeGroup(g))
		}
	case loadBalancerArn != "" && loadBalancerArn != lb.arn:
		return nil, lb.loadBalancerNotFound(loadBalancerArn)
	default:
		for _, name := range lb.TargetGroupNames() {
			if g := lb.groups[name]; loadBalancerArn == "" || g.inUse {
				out = append(out, lb.describeGroup(g))
			}
		}
	}
	return out, nil
}

// DescribeListeners describes the listeners: those with listenerArns (any
// unknown one fails the call with ListenerNotFound), else all of them
// (loadBalancerArn, when set, must be this load balancer's).
func (lb *LoadBalancer) DescribeListeners(loadBalancerArn string, listenerArns []string) ([]ListenerDescription, error) {
	if loadBalancerArn != "" && loadBalancerArn != lb.arn {
		return nil, lb.loadBalancerNotFound(loadBalancerArn)
	}
	lb.mu.Lock()
	bound := lb.listeners
	lb.mu.Unlock()
	all := []ListenerDescription{}
	for i, l := range lb.cfg.Listeners {
		g := lb.groups[l.TargetGroup]
		j := ListenerDescription{
			ListenerArn:     listenerARN(lb.cfg.Region, lb.cfg.Name, i),
			LoadBalancerArn: lb.arn,
			Port:            l.Port,
			Protocol:        "TCP",
		}
		if i < len(bound) {
			j.Port = int(bound[i].addr.Port())
			j.Address = bound[i].addr.String()
		}
		a := Action{Type: "forward", TargetGroupArn: g.arn}
		a.ForwardConfig.TargetGroups = []ForwardTarget{{TargetGroupArn: g.arn, Weight: 1}}
		j.DefaultActions = []Action{a}
		all = append(all, j)
	}
	if len(listenerArns) == 0 {
		return all, nil
	}
	out := []ListenerDescription{}
	for _, arn := range listenerArns {
		i := lb.listenerIndex(arn)
		if i < 0 {
			return nil, listenerNotFound(arn)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func (lb *LoadBalancer) listenerIndex(arn string) int {
	for i := range lb.cfg.Listeners {
		if listenerARN(lb.cfg.Region, lb.cfg.Name, i) == arn {
			return i
		}
	}
	return -1
}

func listenerNotFound(arn string) error {
	return &APIError{Status: http.StatusBadRequest, Code: "ListenerNotFound",
		Message: fmt.Sprintf("One or more listeners not found: '%s'", arn)}
}

// DescribeTargetHealthOf describes the targets of group: all registered
// ones (as DescribeTargetHealth), or those in ts, where a target that is
// not registered is reported unused (Target.NotRegistered), as AWS does.
func (lb *LoadBalancer) DescribeTargetHealthOf(group string, ts []Target) ([]TargetHealthDescription, error) {
	g, err := lb.group(group)
	if err != nil {
		return nil, err
	}
	all := g.describe()
	if len(ts) == 0 {
		return all, nil
	}
	addrs, err := parseTargets(ts, g.cfg.Port)
	if err != nil {
		return nil, err
	}
	return selectTargets(all, addrs, g.config().HealthCheck.Port), nil
}

// TargetGroupAttributes returns group's attributes under their AWS keys.
func (lb *LoadBalancer) TargetGroupAttributes(group string) ([]Attribute, error) {
	g, err := lb.group(group)
	if err != nil {
		return nil, err
	}
	return attributesOf(g.config()), nil
}

func attributesOf(c TargetGroupConfig) []Attribute {
	return []Attribute{
		{AttrDeregistrationDelay, strconv.Itoa(seconds(c.DeregistrationDelay))},
		{AttrConnectionTermination, strconv.FormatBool(c.ConnectionTermination)},
		{AttrProxyProtocolV2, strconv.FormatBool(c.ProxyProtocolV2)},
		{AttrUnhealthyConnectionTermination, strconv.FormatBool(c.terminatesUnhealthy())},
		{AttrUnhealthyDrainingInterval, strconv.Itoa(seconds(c.UnhealthyDrainingInterval))},
		{"preserve_client_ip.enabled", "false"},
		{"stickiness.enabled", "false"},
		{"stickiness.type", "source_ip"},
		{"load_balancing.cross_zone.enabled", "use_load_balancer_configuration"},
	}
}

// ListenerAttributes returns the attributes of the listener with ARN arn.
func (lb *LoadBalancer) ListenerAttributes(arn string) ([]Attribute, error) {
	i := lb.listenerIndex(arn)
	if i < 0 {
		return nil, listenerNotFound(arn)
	}
	return []Attribute{{"tcp.idle_timeout.seconds", strconv.Itoa(seconds(lb.cfg.Listeners[i].IdleTimeout))}}, nil
}
