package nlb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// maxControlBody bounds a control API request body.
const maxControlBody = 1 << 20

// APIError is an ELBv2 error: {"Error":{"Code":..., "Message":...}}.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func validationError(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "ValidationError", Message: fmt.Sprintf(format, args...)}
}

// ToAPIError maps an error of this package to its ELBv2 error code and
// HTTP status; the message drops the code prefix the sentinel errors put in
// front. Errors it does not know are InternalFailure (500) with a message
// that does not leak them.
func ToAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	for _, s := range []error{ErrTargetGroupNotFound, ErrInvalidTarget, ErrValidation} {
		if errors.Is(err, s) {
			return &APIError{Status: http.StatusBadRequest, Code: s.Error(),
				Message: strings.TrimPrefix(err.Error(), s.Error()+": ")}
		}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "internal error"}
}

type controlFunc func(r *http.Request) (any, error)

// ControlHandler serves the ELBv2-shaped JSON control API under /elbv2/:
//
//	POST     /elbv2/RegisterTargets       {"TargetGroupName"|"TargetGroupArn", "Targets":[{"Id","Port"}]}
//	POST     /elbv2/DeregisterTargets     (same body)
//	GET|POST /elbv2/DescribeTargetHealth  ?TargetGroupName= | ?TargetGroupArn= | body with optional Targets
//	GET|POST /elbv2/DescribeTargetGroups  optional ?Names=a,b | body {"Names":[...],"TargetGroupArns":[...]}
//	GET|POST /elbv2/DescribeListeners
//	GET|POST /elbv2/DescribeTargetGroupAttributes  ?TargetGroupArn= | ?TargetGroupName=
//	GET|POST /elbv2/DescribeListenerAttributes     ?ListenerArn=
//	POST     /elbv2/ModifyTargetGroupAttributes    {"TargetGroupArn"|"TargetGroupName", "Attributes":[{"Key","Value"}]}
//	GET|POST /elbv2/DescribeLoadBalancers
//	POST     /elbv2/ModifyTargetGroup              {"TargetGroupArn"|"TargetGroupName", "HealthCheck…", "Matcher":{"HttpCode"}}
//
// Errors are 4xx with {"Error":{"Code","Message"}}.
func (lb *LoadBalancer) ControlHandler() http.Handler {
	type route struct {
		fn      controlFunc
		methods []string
	}
	routes := map[string]route{
		"RegisterTargets":      {lb.apiRegisterTargets, []string{"POST"}},
		"DeregisterTargets":    {lb.apiDeregisterTargets, []string{"POST"}},
		"DescribeTargetHealth": {lb.apiDescribeTargetHealth, []string{"GET", "POST"}},
		"DescribeTargetGroups": {lb.apiDescribeTargetGroups, []string{"GET", "POST"}},
		"DescribeListeners":    {lb.apiDescribeListeners, []string{"GET", "POST"}},

		"DescribeTargetGroupAttributes": {lb.apiDescribeTargetGroupAttributes, []string{"GET", "POST"}},
		"DescribeListenerAttributes":    {lb.apiDescribeListenerAttributes, []string{"GET", "POST"}},
		"ModifyTargetGroupAttributes":   {lb.apiModifyTargetGroupAttributes, []string{"POST"}},
		"DescribeLoadBalancers":         {lb.apiDescribeLoadBalancers, []string{"GET", "POST"}},
		"ModifyTargetGroup":             {lb.apiModifyTargetGroup, []string{"POST"}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", uuid.NewString())
		action, ok := strings.CutPrefix(r.URL.Path, "/elbv2/")
		rt, found := routes[action]
		if !ok || !found {
			writeJSON(w, http.StatusBadRequest, map[string]any{"Error": &APIError{
				Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %q", action)}})
			return
		}
		if !slices.Contains(rt.methods, r.Method) {
			allow := strings.Join(rt.methods, ", ")
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"Error": &APIError{
				Code: "InvalidAction", Message: fmt.Sprintf("%s requires %s", action, allow)}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxControlBody)
		resp, err := rt.fn(r)
		if err != nil {
			ae := ToAPIError(err)
			if ae.Status == http.StatusInternalServerError {
				lb.log.Error("control API failed", "action", action, "error", err)
			}
			writeJSON(w, ae.Status, map[string]any{"Error": ae})
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// decode reads a strict JSON body into v; an empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	if r.Method != http.MethodPost {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.As(err, &mbe):
			return validationError("request body larger than %d bytes", mbe.Limit)
		}
		return validationError("invalid JSON body: %v", err)
	}
	if dec.More() {
		return validationError("invalid JSON body: more than one value")
	}
	return nil
}

type apiTarget struct {
	Id               string
	Port             int
	AvailabilityZone string
}

type targetsRequest struct {
	TargetGroupName string
	TargetGroupArn  string
	Targets         []apiTarget
}

func (req targetsRequest) targets() []Target {
	out := make([]Target, len(req.Targets))
	for i, t := range req.Targets {
		out[i] = Target{ID: t.Id, Port: t.Port}
	}
	return out
}

// resolveGroup finds the group named by name or ARN (exactly one of them).
func (lb *LoadBalancer) resolveGroup(name, arn string) (*targetGroup, error) {
	switch {
	case name == "" && arn == "":
		return nil, validationError("TargetGroupArn or TargetGroupName is required")
	case name != "" && arn != "":
		return nil, validationError("specify either TargetGroupArn or TargetGroupName, not both")
	case name != "":
		return lb.group(name)
	}
	for _, g := range lb.groups {
		if g.arn == arn {
			return g, nil
		}
	}
	return nil, fmt.Errorf("%w: One or more target groups not found: '%s'", ErrTargetGroupNotFound, arn)
}

func (lb *LoadBalancer) decodeTargets(r *http.Request) (*targetsRequest, *targetGroup, error) {
	var req targetsRequest
	if err := decode(r, &req); err != nil {
		return nil, nil, err
	}
	g, err := lb.resolveGroup(req.TargetGroupName, req.TargetGroupArn)
	if err != nil {
		return nil, nil, err
	}
	return &req, g, nil
}

func (lb *LoadBalancer) apiRegisterTargets(r *http.Request) (any, error) {
	req, g, err := lb.decodeTargets(r)
	if err != nil {
		return nil, err
	}
	if err := lb.RegisterTargets(g.cfg.Name, req.targets()); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (lb *LoadBalancer) apiDeregisterTargets(r *http.Request) (any, error) {
	req, g, err := lb.decodeTargets(r)
	if err != nil {
		return nil, err
	}
	if err := lb.DeregisterTargets(g.cfg.Name, req.targets()); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (lb *LoadBalancer) apiDescribeTargetHealth(r *http.Request) (any, error) {
	req := targetsRequest{
		TargetGroupName: r.URL.Query().Get("TargetGroupName"),
		TargetGroupArn:  r.URL.Query().Get("TargetGroupArn"),
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	g, err := lb.resolveGroup(req.TargetGroupName, req.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	var ts []Target
	if len(req.Targets) > 0 {
		ts = req.targets()
	}
	all, err := lb.DescribeTargetHealthOf(g.cfg.Name, ts)
	if err != nil {
		return nil, err
	}
	return map[string]any{"TargetHealthDescriptions": all}, nil
}

func (lb *LoadBalancer) apiDescribeLoadBalancers(r *http.Request) (any, error) {
	var req struct {
		Names            []string
		LoadBalancerArns []string
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	d := lb.DescribeLoadBalancer()
	for _, n := range req.Names {
		if n != d.LoadBalancerName {
			return nil, lb.loadBalancerNotFound(n)
		}
	}
	for _, a := range req.LoadBalancerArns {
		if a != d.LoadBalancerArn {
			return nil, lb.loadBalancerNotFound(a)
		}
	}
	return map[string]any{"LoadBalancers": []LoadBalancerDescription{d}}, nil
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
	out, err := lb.DescribeTargetGroups(req.Names, req.TargetGroupArns, req.LoadBalancerArn)
	if err != nil {
		return nil, err
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
	out, err := lb.DescribeListeners(req.LoadBalancerArn, req.ListenerArns)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Listeners": out}, nil
}

// groupRequest is a request naming one target group: TargetGroupArn, or
// TargetGroupName as a portway convenience, in the query or the body.
type groupRequest struct{ TargetGroupArn, TargetGroupName string }

func (lb *LoadBalancer) resolveRequestGroup(r *http.Request, body any, req *groupRequest) (string, error) {
	req.TargetGroupArn = r.URL.Query().Get("TargetGroupArn")
	req.TargetGroupName = r.URL.Query().Get("TargetGroupName")
	if err := decode(r, body); err != nil {
		return "", err
	}
	g, err := lb.resolveGroup(req.TargetGroupName, req.TargetGroupArn)
	if err != nil {
		return "", err
	}
	return g.cfg.Name, nil
}

func (lb *LoadBalancer) apiDescribeTargetGroupAttributes(r *http.Request) (any, error) {
	var req groupRequest
	name, err := lb.resolveRequestGroup(r, &req, &req)
	if err != nil {
		return nil, err
	}
	attrs, err := lb.TargetGroupAttributes(name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Attributes": attrs}, nil
}

func (lb *LoadBalancer) apiModifyTargetGroupAttributes(r *http.Request) (any, error) {
	var req struct {
		groupRequest
		Attributes []Attribute
	}
	name, err := lb.resolveRequestGroup(r, &req, &req.groupRequest)
	if err != nil {
		return nil, err
	}
	attrs, err := lb.ModifyTargetGroupAttributes(name, req.Attributes)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Attributes": attrs}, nil
}

func (lb *LoadBalancer) apiModifyTargetGroup(r *http.Request) (any, error) {
	var req struct {
		groupRequest
		HealthCheckProtocol        *string
		HealthCheckPort            *string
		HealthCheckPath            *string
		HealthCheckEnabled         *bool
		HealthCheckIntervalSeconds *int
		HealthCheckTimeoutSeconds  *int
		HealthyThresholdCount      *int
		UnhealthyThresholdCount    *int
		Matcher                    *Matcher
	}
	name, err := lb.resolveRequestGroup(r, &req, &req.groupRequest)
	if err != nil {
		return nil, err
	}
	u := HealthCheckUpdate{
		Protocol: req.HealthCheckProtocol, Port: req.HealthCheckPort, Path: req.HealthCheckPath,
		Enabled: req.HealthCheckEnabled, IntervalSeconds: req.HealthCheckIntervalSeconds,
		TimeoutSeconds: req.HealthCheckTimeoutSeconds, HealthyThreshold: req.HealthyThresholdCount,
		UnhealthyThreshold: req.UnhealthyThresholdCount,
	}
	if req.Matcher != nil {
		u.Matcher = &req.Matcher.HttpCode
	}
	tg, err := lb.ModifyTargetGroup(name, u)
	if err != nil {
		return nil, err
	}
	return map[string]any{"TargetGroups": []TargetGroupDescription{tg}}, nil
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
	attrs, err := lb.ListenerAttributes(req.ListenerArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Attributes": attrs}, nil
}

// selectTargets picks the requested targets out of all; a target that is not
// registered is reported unused (Target.NotRegistered), as AWS does.
func selectTargets(all []TargetHealthDescription, want []netip.AddrPort, hcPort int) []TargetHealthDescription {
	byAddr := map[netip.AddrPort]TargetHealthDescription{}
	for _, d := range all {
		ip, _ := netip.ParseAddr(d.Target.ID)
		byAddr[netip.AddrPortFrom(ip, uint16(d.Target.Port))] = d
	}
	out := make([]TargetHealthDescription, 0, len(want))
	for _, a := range want {
		d, ok := byAddr[a]
		if !ok {
			d = TargetHealthDescription{
				Target:          Target{ID: a.Addr().String(), Port: int(a.Port())},
				HealthCheckPort: healthCheckPortString(hcPort, a),
				TargetHealth:    TargetHealth{State: StateUnused, Reason: ReasonNotRegistered, Description: descNotRegistered},
			}
		}
		out = append(out, d)
	}
	return out
}
