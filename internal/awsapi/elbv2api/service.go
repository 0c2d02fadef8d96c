// Package elbv2api serves the Elastic Load Balancing v2 API in AWS's Query
// protocol (form-encoded requests, XML answers; API version 2015-12-01)
// for the AWS CLI and SDKs, on portway's load balancer: the same model
// (internal/nlb) as the /elbv2/ JSON control API, so a target registered or
// a health check changed through either is the same change.
//
// The Service is one of the AWS APIs the control listener dispatches by
// SigV4 signing name ("elasticloadbalancing"); requests reach it with their
// signature verified.
package elbv2api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/nlb"
)

// Version is the API version requests must name.
const Version = "2015-12-01"

// SigningName is the SigV4 signing name the service is dispatched by.
const SigningName = "elasticloadbalancing"

// LoadBalancer is what the service needs of the load balancer
// (*nlb.LoadBalancer).
type LoadBalancer interface {
	DescribeLoadBalancer() nlb.LoadBalancerDescription
	DescribeListeners(loadBalancerArn string, listenerArns []string) ([]nlb.ListenerDescription, error)
	DescribeTargetGroups(names, arns []string, loadBalancerArn string) ([]nlb.TargetGroupDescription, error)
	TargetGroupName(arn string) (string, error)
	DescribeTargetHealthOf(group string, ts []nlb.Target) ([]nlb.TargetHealthDescription, error)
	RegisterTargets(group string, ts []nlb.Target) error
	DeregisterTargets(group string, ts []nlb.Target) error
	TargetGroupAttributes(group string) ([]nlb.Attribute, error)
	ModifyTargetGroupAttributes(group string, attrs []nlb.Attribute) ([]nlb.Attribute, error)
	ModifyTargetGroup(group string, u nlb.HealthCheckUpdate) (nlb.TargetGroupDescription, error)
}

var _ LoadBalancer = (*nlb.LoadBalancer)(nil)

// Service serves the ELBv2 Query API. Create it with New.
type Service struct {
	lb  LoadBalancer
	log *slog.Logger
	ops map[string]operation
}

// operation runs one action and returns its result element's content.
type operation func(p params) (any, error)

// New returns the service for lb; log (nil: discard) gets internal errors.
func New(lb LoadBalancer, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{lb: lb, log: log}
	s.ops = map[string]operation{
		"DescribeLoadBalancers":         s.describeLoadBalancers,
		"DescribeListeners":             s.describeListeners,
		"DescribeTargetGroups":          s.describeTargetGroups,
		"DescribeTargetHealth":          s.describeTargetHealth,
		"RegisterTargets":               s.registerTargets,
		"DeregisterTargets":             s.deregisterTargets,
		"DescribeTargetGroupAttributes": s.describeTargetGroupAttributes,
		"ModifyTargetGroupAttributes":   s.modifyTargetGroupAttributes,
		"ModifyTargetGroup":             s.modifyTargetGroup,
	}
	return s
}

// queryError is an error in AWS's terms.
type queryError struct {
	status        int
	code, message string
}

func (e *queryError) Error() string { return e.code + ": " + e.message }

func validation(format string, args ...any) error {
	return &queryError{http.StatusBadRequest, "ValidationError", fmt.Sprintf(format, args...)}
}

// ServeHTTP serves one Query request (POST with a form body, or GET).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", id)
	action, result, err := s.serve(w, r)
	if err == nil {
		if err = writeResult(w, action, result, id); err == nil {
			return
		}
	}
	var qe *queryError
	if !errors.As(err, &qe) {
		ae := nlb.ToAPIError(err)
		qe = &queryError{ae.Status, ae.Code, ae.Message}
	}
	if qe.status >= 500 {
		s.log.Error("ELBv2 API failed", "action", action, "error", err)
	}
	writeError(w, qe.status, qe.code, qe.message, id)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) (string, any, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		return "", nil, &queryError{http.StatusMethodNotAllowed, "InvalidAction", "the Query API takes POST (or GET), not " + r.Method}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes+1)
	p, err := readParams(r)
	if err != nil {
		return "", nil, err
	}
	action := p["Action"]
	if action == "" {
		return "", nil, &queryError{http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action"}
	}
	op, ok := s.ops[action]
	if !ok || p["Version"] != Version {
		v := p["Version"]
		if v == "" {
			return action, nil, &queryError{http.StatusBadRequest, "MissingParameter", "The request must contain the parameter Version"}
		}
		return action, nil, &queryError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", action, v)}
	}
	result, err := op(p)
	return action, result, err
}

// WriteAuthError writes an authentication failure (e.g.
// SignatureDoesNotMatch) as an ELBv2 error document with status.
func (s *Service) WriteAuthError(w http.ResponseWriter, _ *http.Request, status int, code, message string) {
	id := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", id)
	writeError(w, status, code, message, id)
}
