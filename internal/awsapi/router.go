// Package awsapi serves AWS's own wire protocols on the control listener,
// so that the AWS CLI and SDKs, given --endpoint-url, manage a running
// stack: it verifies SigV4 signatures against the stack's key pair
// (<state>/aws-credentials, profile portway), dispatches each request to the
// Service its credential scope names, and gives the JSON 1.1 services
// (ECS, Cognito user pools; subpackages) their protocol. Requests that look
// like no AWS call go on to the control API's own handler.
package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
)

// Service is one AWS API served on the control listener.
type Service interface {
	// ServeHTTP serves a request whose SigV4 signature has been verified; the body was read
	// (bounded) for the payload hash and r.Body replays it.
	http.Handler
	// WriteAuthError writes an authentication failure in the service's own protocol,
	// e.g. code "MissingAuthenticationToken"/"SignatureDoesNotMatch"/"UnrecognizedClientException"/
	// "InvalidSignatureException"/"IncompleteSignature", with the HTTP status AWS uses.
	WriteAuthError(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

// Services maps SigV4 signing names to services: "elasticloadbalancing", "ecs", "cognito-idp", "apigateway".
type Services map[string]Service

// Signing names of the services portway serves.
const (
	ELBv2      = "elasticloadbalancing"
	ECS        = "ecs"
	CognitoIDP = "cognito-idp"
	APIGateway = "apigateway"
)

// X-Amz-Target prefixes of the JSON services.
const (
	ECSTargetPrefix     = "AmazonEC2ContainerServiceV20141113."
	CognitoTargetPrefix = "AWSCognitoIdentityProviderService."
)

// DefaultMaxBody bounds a request body (the largest call portway serves is
// far smaller).
const DefaultMaxBody = 1 << 20

// Config configures a Router.
type Config struct {
	Services Services
	Verifier *Verifier
	// Next serves requests that are not AWS calls (the control API).
	Next    http.Handler
	MaxBody int64 // 0: DefaultMaxBody
	Logger  *slog.Logger
}

// Router sends AWS calls to their Service and everything else to Next.
type Router struct {
	cfg Config
	log *slog.Logger
}

// NewRouter checks cfg.
func NewRouter(cfg Config) (*Router, error) {
	switch {
	case cfg.Verifier == nil:
		return nil, errors.New("awsapi: no verifier")
	case cfg.Verifier.Credentials.AccessKeyID == "" || cfg.Verifier.Credentials.SecretAccessKey == "":
		return nil, errors.New("awsapi: no credentials")
	case cfg.Verifier.Region == "":
		return nil, errors.New("awsapi: no region")
	case cfg.Next == nil:
		return nil, errors.New("awsapi: no next handler")
	}
	for name, s := range cfg.Services {
		if s == nil {
			return nil, fmt.Errorf("awsapi: service %q is nil", name)
		}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{cfg: cfg, log: log}, nil
}

// Claims reports whether r is an AWS call, which the Router authenticates
// itself (SigV4), so the control API's bearer-token guard lets it through.
// It does not read the body.
func (rt *Router) Claims(r *http.Request) bool {
	if _, signed := SigningService(r); signed {
		return true
	}
	_, ok := rt.cfg.Services[shapeService(r)]
	return ok
}

// shapeService attributes a request to a service by its shape: the
// X-Amz-Target prefix of the JSON protocols, a form POST or an Action
// parameter (Query protocol), a /restapis path (API Gateway); "" for none.
func shapeService(r *http.Request) string {
	t := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(t, ECSTargetPrefix):
		return ECS
	case strings.HasPrefix(t, CognitoTargetPrefix):
		return CognitoIDP
	case r.URL.Path == "/restapis" || strings.HasPrefix(r.URL.Path, "/restapis/"):
		return APIGateway
	case r.URL.Query().Has("Action"):
		return ELBv2
	}
	if r.Method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
			return ELBv2
		}
	}
	return ""
}

// ServeHTTP verifies an AWS call and hands it to its service.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !rt.Claims(r) {
		rt.cfg.Next.ServeHTTP(w, r)
		return
	}
	name, _ := SigningService(r)
	svc, ok := rt.cfg.Services[name]
	if !ok {
		// Unsigned, malformed, or signed for a service portway does not
		// serve: the error is the attributed service's.
		shape := shapeService(r)
		if svc, ok = rt.cfg.Services[shape]; !ok {
			writeNoService(w, name)
			return
		}
		if name != "" {
			rt.authError(w, r, shape, svc, &AuthError{FailSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", shape)})
			return
		}
		name = shape
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("request body over %d bytes", rt.cfg.MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return
	}
	if aerr := rt.cfg.Verifier.Verify(r, body, name); aerr != nil {
		rt.authError(w, r, name, svc, aerr)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	svc.ServeHTTP(w, r)
}

func (rt *Router) authError(w http.ResponseWriter, r *http.Request, name string, svc Service, e *AuthError) {
	status, code := authCode(name, e.Failure)
	// The message never holds the signature or the secret.
	rt.log.Info("aws api: request refused", "service", name, "code", code, "reason", e.Message, "remote", r.RemoteAddr)
	svc.WriteAuthError(w, r, status, code, e.Message)
}

// authCode is how a protocol spells an authentication failure, with its
// status: the Query protocol (ELBv2) answers 403 with
// MissingAuthenticationToken, InvalidClientTokenId, SignatureDoesNotMatch
// (IncompleteSignature: 400); API Gateway's REST API answers 403 with the
// …Exception names; the JSON 1.1 services answer 400 with them.
func authCode(service string, f AuthFailure) (int, string) {
	switch service {
	case ELBv2:
		switch f {
		case FailMissing:
			return http.StatusForbidden, "MissingAuthenticationToken"
		case FailIncomplete:
			return http.StatusBadRequest, "IncompleteSignature"
		case FailUnknownKey:
			return http.StatusForbidden, "InvalidClientTokenId"
		}
		return http.StatusForbidden, "SignatureDoesNotMatch"
	case APIGateway:
		return http.StatusForbidden, jsonAuthCode(f)
	}
	return http.StatusBadRequest, jsonAuthCode(f)
}

func jsonAuthCode(f AuthFailure) string {
	switch f {
	case FailMissing:
		return "MissingAuthenticationTokenException"
	case FailIncomplete:
		return "IncompleteSignatureException"
	case FailUnknownKey:
		return "UnrecognizedClientException"
	}
	return "InvalidSignatureException"
}

// writeNoService answers a SigV4-signed request for a service portway does
// not serve.
func writeNoService(w http.ResponseWriter, service string) {
	msg := fmt.Sprintf("portway does not serve the AWS service %q on this endpoint; it serves ecs, cognito-idp, elasticloadbalancing and apigateway", service)
	if service == "" {
		msg = "malformed AWS4-HMAC-SHA256 signature and no recognizable AWS call"
	}
	data, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(data)
}
