package elbv2api

import (
	"strconv"

	"github.com/portway/portway/internal/nlb"
)

// The operations: each reads its parameters as AWS names them, calls the
// load balancer and returns the content of its result element.

type loadBalancersResult struct {
	LoadBalancers list[xmlLoadBalancer]
}

func (s *Service) describeLoadBalancers(p params) (any, error) {
	names, err := p.list("Names")
	if err != nil {
		return nil, err
	}
	arns, err := p.list("LoadBalancerArns")
	if err != nil {
		return nil, err
	}
	d := s.lb.DescribeLoadBalancer()
	for _, n := range names {
		if n != d.LoadBalancerName {
			return nil, &queryError{400, "LoadBalancerNotFound", "Load balancers '[" + n + "]' not found"}
		}
	}
	for _, a := range arns {
		if a != d.LoadBalancerArn {
			return nil, &queryError{400, "LoadBalancerNotFound", "One or more load balancers not found: '" + a + "'"}
		}
	}
	return loadBalancersResult{LoadBalancers: listOf([]xmlLoadBalancer{loadBalancerXML(d)})}, nil
}

type listenersResult struct {
	Listeners list[xmlListener]
}

func (s *Service) describeListeners(p params) (any, error) {
	arns, err := p.list("ListenerArns")
	if err != nil {
		return nil, err
	}
	lbArn := p["LoadBalancerArn"]
	if lbArn == "" && len(arns) == 0 {
		return nil, validation("You must specify either a load balancer ARN or one or more listener ARNs")
	}
	ls, err := s.lb.DescribeListeners(lbArn, arns)
	if err != nil {
		return nil, err
	}
	return listenersResult{Listeners: listenersXML(ls)}, nil
}

type targetGroupsResult struct {
	TargetGroups list[xmlTargetGroup]
}

func (s *Service) describeTargetGroups(p params) (any, error) {
	names, err := p.list("Names")
	if err != nil {
		return nil, err
	}
	arns, err := p.list("TargetGroupArns")
	if err != nil {
		return nil, err
	}
	gs, err := s.lb.DescribeTargetGroups(names, arns, p["LoadBalancerArn"])
	if err != nil {
		return nil, err
	}
	return targetGroupsResult{TargetGroups: targetGroupsXML(gs)}, nil
}

// group resolves the required TargetGroupArn to the group's name.
func (s *Service) group(p params) (string, error) {
	arn, err := p.required("TargetGroupArn")
	if err != nil {
		return "", err
	}
	return s.lb.TargetGroupName(arn)
}

// targets reads Targets.member.N.Id/Port (Port optional: the group's).
func targets(p params, required bool) ([]nlb.Target, error) {
	items, err := p.structs("Targets", "Id", "Port", "AvailabilityZone", "QuicServerId")
	if err != nil {
		return nil, err
	}
	if required && len(items) == 0 {
		return nil, validation("1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null")
	}
	out := make([]nlb.Target, len(items))
	for i, m := range items {
		if m["Id"] == "" {
			return nil, validation("1 validation error detected: Value null at 'targets.%d.member.id' failed to satisfy constraint: Member must not be null", i+1)
		}
		out[i].ID = m["Id"]
		if v, ok := m["Port"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, validation("Value '%s' at 'targets.%d.member.port' must be an integer", v, i+1)
			}
			if n < 1 || n > 65535 {
				return nil, validation("1 validation error detected: Value '%d' at 'targets.%d.member.port' failed to satisfy constraint: Member must have value between 1 and 65535", n, i+1)
			}
			out[i].Port = n
		}
	}
	return out, nil
}

type targetHealthResult struct {
	TargetHealthDescriptions list[xmlTargetHealthDescription]
}

func (s *Service) describeTargetHealth(p params) (any, error) {
	g, err := s.group(p)
	if err != nil {
		return nil, err
	}
	ts, err := targets(p, false)
	if err != nil {
		return nil, err
	}
	if _, err := p.list("Include"); err != nil {
		return nil, err
	}
	ds, err := s.lb.DescribeTargetHealthOf(g, ts)
	if err != nil {
		return nil, err
	}
	return targetHealthResult{TargetHealthDescriptions: targetHealthXML(ds)}, nil
}

type emptyResult struct{}

func (s *Service) registerTargets(p params) (any, error) {
	g, err := s.group(p)
	if err != nil {
		return nil, err
	}
	ts, err := targets(p, true)
	if err != nil {
		return nil, err
	}
	return emptyResult{}, s.lb.RegisterTargets(g, ts)
}

func (s *Service) deregisterTargets(p params) (any, error) {
	g, err := s.group(p)
	if err != nil {
		return nil, err
	}
	ts, err := targets(p, true)
	if err != nil {
		return nil, err
	}
	return emptyResult{}, s.lb.DeregisterTargets(g, ts)
}

type attributesResult struct {
	Attributes list[xmlAttribute]
}

func (s *Service) describeTargetGroupAttributes(p params) (any, error) {
	g, err := s.group(p)
	if err != nil {
		return nil, err
	}
	as, err := s.lb.TargetGroupAttributes(g)
	if err != nil {
		return nil, err
	}
	return attributesResult{Attributes: attributesXML(as)}, nil
}

func (s *Service) modifyTargetGroupAttributes(p params) (any, error) {
	g, err := s.group(p)
	if err != nil {
		return nil, err
	}
	items, err := p.structs("Attributes", "Key", "Value")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, validation("1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null")
	}
	attrs := make([]nlb.Attribute, len(items))
	for i, m := range items {
		attrs[i] = nlb.Attribute{Key: m["Key"], Value: m["Value"]}
	}
	as, err := s.lb.ModifyTargetGroupAttributes(g, attrs)
	if err != nil {
		return nil, err
	}
	return attributesResult{Attributes: attributesXML(as)}, nil
}

func (s *Service) modifyTargetGroup(p params) (any, error) {
	g, err := s.group(p)
	if err != nil {
		return nil, err
	}
	u := nlb.HealthCheckUpdate{
		Protocol: p.optString("HealthCheckProtocol"),
		Port:     p.optString("HealthCheckPort"),
		Path:     p.optString("HealthCheckPath"),
		Matcher:  p.optString("Matcher.HttpCode"),
	}
	if _, ok := p["Matcher.GrpcCode"]; ok {
		return nil, validation("Matcher.GrpcCode is for gRPC target groups; this target group is TCP")
	}
	if u.Enabled, err = p.optBool("HealthCheckEnabled"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst **int
	}{
		{"HealthCheckIntervalSeconds", &u.IntervalSeconds}, {"HealthCheckTimeoutSeconds", &u.TimeoutSeconds},
		{"HealthyThresholdCount", &u.HealthyThreshold}, {"UnhealthyThresholdCount", &u.UnhealthyThreshold},
	} {
		if *f.dst, err = p.optInt(f.key); err != nil {
			return nil, err
		}
	}
	tg, err := s.lb.ModifyTargetGroup(g, u)
	if err != nil {
		return nil, err
	}
	return targetGroupsResult{TargetGroups: targetGroupsXML([]nlb.TargetGroupDescription{tg})}, nil
}
