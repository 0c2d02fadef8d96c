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

// apiError is an ELBv2 error: {"Error":{"Code":..., "Message":...}}.
type apiError struct {
	status  int
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func validationError(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Code: "ValidationError", Message: fmt.Sprintf(format, args...)}
}

// toAPIError maps an error to its ELBv2 code; the message drops the code
// prefix the sentinel errors put in front.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, s := range []error{ErrTargetGroupNotFound, ErrInvalidTarget, ErrValidation} {
		if errors.Is(err, s) {
			return &apiError{status: http.StatusBadRequest, Code: s.Error(),
				Message: strings.TrimPrefix(err.Error(), s.Error()+": ")}
		}
	}
	return &apiError{status: http.StatusInternalServerError, Code: "InternalFailure", Message: "internal error"}
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
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", uuid.NewString())
		action, ok := strings.CutPrefix(r.URL.Path, "/elbv2/")
		rt, found := routes[action]
		if !ok || !found {
			writeJSON(w, http.StatusBadRequest, map[string]any{"Error": &apiError{
				Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %q", action)}})
			return
		}
		if !slices.Contains(rt.methods, r.Method) {
			allow := strings.Join(rt.methods, ", ")
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"Error": &apiError{
				Code: "InvalidAction", Message: fmt.Sprintf("%s requires %s", action, allow)}})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxControlBody)
		resp, err := rt.fn(r)
		if err != nil {
			ae := toAPIError(err)
			if ae.status == http.StatusInternalServerError {
				lb.log.Error("control API failed", "action", action, "error", err)
			}
			writeJSON(w, ae.status, map[string]any{"Error": ae})
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
	all := g.describe()
	if len(req.Targets) > 0 {
		addrs, err := parseTargets(req.targets(), g.cfg.Port)
		if err != nil {
			return nil, err
		}
		all = selectTargets(all, addrs, g.cfg.HealthCheck.Port)
	}
	return map[string]any{"TargetHealthDescriptions": all}, nil
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
