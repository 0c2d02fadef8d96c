// Package apigwapi serves API Gateway's REST control API (the read side:
// GetRestApis, GetRestApi, GetResources, GetResource, GetStages, GetStage,
// GetExport) for the AWS CLI and SDKs, describing the REST API that
// portway's gateway runs: one API, its resource tree with the methods and
// integrations of the gateway's routes, and its stages.
//
// The Service is one of the AWS APIs the control listener dispatches by
// SigV4 signing name ("apigateway"); requests reach it with their signature
// verified.
package apigwapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/gateway"
)

// SigningName is the SigV4 signing name the service is dispatched by.
const SigningName = "apigateway"

// Exporter writes the running API of a stage as an OpenAPI document.
type Exporter interface {
	// Export returns the document: exportType "oas30" or "swagger", format
	// "json" or "yaml", extensions among "integrations", "authorizers",
	// "apigateway", "postman" (as get-export's extensions parameter). An
	// error is reported to the caller as BadRequestException with its text.
	Export(stage, exportType, format string, extensions []string) ([]byte, error)
}

// ExporterFunc adapts a function to Exporter.
type ExporterFunc func(stage, exportType, format string, extensions []string) ([]byte, error)

// Export calls f.
func (f ExporterFunc) Export(stage, exportType, format string, extensions []string) ([]byte, error) {
	return f(stage, exportType, format, extensions)
}

// Config is what the service describes.
type Config struct {
	// ID is the REST API's id; empty: ID(Name).
	ID string
	// Name and Description of the REST API.
	Name        string
	Description string
	// Gateway is the running gateway's configuration: its resources,
	// methods and stages.
	Gateway gateway.Config
	// Exporter serves GetExport; nil: GetExport answers NotFoundException.
	Exporter Exporter
	// Created is the API's (and its stages') creation date.
	Created time.Time
	Logger  *slog.Logger // nil: discard
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("apigwapi: Name is required")
	}
	if len(c.Gateway.AllStages()) == 0 {
		return errors.New("apigwapi: the gateway has no stage")
	}
	return nil
}

// Service serves the API Gateway REST API. Create it with New.
type Service struct {
	m        *model
	exporter Exporter
	log      *slog.Logger
}

// New builds the service for cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		cfg.ID = ID(cfg.Name)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{m: buildModel(cfg), exporter: cfg.Exporter, log: log}, nil
}

// RestAPIID returns the REST API's id.
func (s *Service) RestAPIID() string { return s.m.api.ID }

// apiError is an API Gateway error: {"message": …} with x-amzn-ErrorType.
type apiError struct {
	status  int
	typ     string
	message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

func notFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, "NotFoundException", fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "BadRequestException", fmt.Sprintf(format, args...)}
}

// ServeHTTP serves one request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", uuid.NewString())
	if err := s.serve(w, r); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("API Gateway API failed", "method", r.Method, "path", r.URL.Path, "error", err)
			ae = &apiError{http.StatusInternalServerError, "InternalFailure", "internal error"}
		}
		writeError(w, ae.status, ae.typ, ae.message)
	}
}

// WriteAuthError writes an authentication failure as API Gateway does:
// {"message": …} with the exception name in x-amzn-ErrorType.
func (s *Service) WriteAuthError(w http.ResponseWriter, _ *http.Request, status int, code, message string) {
	w.Header().Set("x-amzn-RequestId", uuid.NewString())
	writeError(w, status, authErrorType(code), message)
}

// authErrorType spells SigV4 failures as API Gateway's REST API does.
func authErrorType(code string) string {
	switch code {
	case "MissingAuthenticationToken":
		return "MissingAuthenticationTokenException"
	case "SignatureDoesNotMatch", "InvalidSignature":
		return "InvalidSignatureException"
	case "InvalidClientTokenId", "UnrecognizedClient":
		return "UnrecognizedClientException"
	}
	if strings.HasSuffix(code, "Exception") {
		return code
	}
	return code + "Exception"
}

func writeError(w http.ResponseWriter, status int, typ, message string) {
	w.Header().Set("x-amzn-ErrorType", typ)
	writeJSON(w, status, map[string]string{"message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// serve routes by path: /restapis[/{id}[/resources[/{rid}]|/stages[/{name}[/exports/{type}]]]].
func (s *Service) serve(w http.ResponseWriter, r *http.Request) error {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if segs[0] != "restapis" {
		return notFound("portway serves only the REST API operations under /restapis, not %s", r.URL.Path)
	}
	if r.Method != http.MethodGet {
		return badRequest("portway's API Gateway API is read-only: %s %s is not supported (the stack's configuration defines the API)", r.Method, r.URL.Path)
	}
	q := r.URL.Query()
	if len(segs) == 1 {
		items, pos, err := page([]restAPI{s.m.api}, q)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, list(items, pos))
		return nil
	}
	if segs[1] != s.m.api.ID {
		return notFound("Invalid API identifier specified 000000000000:%s", segs[1])
	}
	switch {
	case len(segs) == 2:
		writeJSON(w, http.StatusOK, s.m.api)
		return nil
	case segs[2] == "resources" && len(segs) <= 4:
		return s.resources(w, segs[3:], q)
	case segs[2] == "stages" && len(segs) <= 4:
		return s.stages(w, segs[3:])
	case segs[2] == "stages" && len(segs) == 6 && segs[4] == "exports":
		return s.export(w, r, segs[3], segs[5])
	}
	return notFound("portway does not serve %s", r.URL.Path)
}

// listing is API Gateway's paged list: {"item": […], "position": …}.
type listing[T any] struct {
	Item     []T    `json:"item"`
	Position string `json:"position,omitempty"`
}

func list[T any](items []T, pos string) listing[T] { return listing[T]{Item: items, Position: pos} }

// page applies limit (1..500, default 25, as AWS) and position (the
// opaque token of the previous page: here an offset).
func page[T any](items []T, q map[string][]string) ([]T, string, error) {
	limit := 25
	if v := first(q, "limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return nil, "", badRequest("limit must be an integer from 1 to 500, got %q", v)
		}
		limit = n
	}
	start := 0
	if v := first(q, "position"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", badRequest("Invalid position parameter %q", v)
		}
		start = n
	}
	end := min(start+limit, len(items))
	pos := ""
	if end < len(items) {
		pos = strconv.Itoa(end)
	}
	return items[start:end], pos, nil
}

func first(q map[string][]string, key string) string {
	if v := q[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (s *Service) resources(w http.ResponseWriter, rest []string, q map[string][]string) error {
	embed := false
	for _, e := range q["embed"] {
		for v := range strings.SplitSeq(e, ",") {
			switch strings.TrimSpace(v) {
			case "methods":
				embed = true
			case "":
			default:
				return badRequest("Invalid embed value %q: only methods is supported", v)
			}
		}
	}
	view := func(r resource) resource {
		if embed {
			return r
		}
		return r.summary()
	}
	if len(rest) == 1 {
		i, ok := s.m.byID[rest[0]]
		if !ok {
			return notFound("Invalid Resource identifier specified")
		}
		writeJSON(w, http.StatusOK, view(s.m.resources[i]))
		return nil
	}
	items, pos, err := page(s.m.resources, q)
	if err != nil {
		return err
	}
	out := make([]resource, len(items))
	for i, r := range items {
		out[i] = view(r)
	}
	writeJSON(w, http.StatusOK, list(out, pos))
	return nil
}

func (s *Service) stage(name string) (stage, bool) {
	for _, st := range s.m.stages {
		if st.StageName == name {
			return st, true
		}
	}
	return stage{}, false
}

func (s *Service) stages(w http.ResponseWriter, rest []string) error {
	if len(rest) == 0 {
		writeJSON(w, http.StatusOK, list(s.m.stages, ""))
		return nil
	}
	st, ok := s.stage(rest[0])
	if !ok {
		return notFound("Invalid stage identifier specified")
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// export serves GetExport: Accept chooses JSON (the default) or YAML; the
// extensions query parameter lists the x-amazon-apigateway extensions.
func (s *Service) export(w http.ResponseWriter, r *http.Request, stageName, exportType string) error {
	if _, ok := s.stage(stageName); !ok {
		return notFound("Invalid stage identifier specified")
	}
	if exportType != "oas30" && exportType != "swagger" {
		return badRequest("Invalid export type %q: portway exports oas30 or swagger", exportType)
	}
	format, ext := "json", "json"
	switch a := strings.ToLower(strings.TrimSpace(r.Header.Get("Accept"))); a {
	case "", "*/*", "application/json":
	case "application/yaml":
		format, ext = "yaml", "yaml"
	default:
		return badRequest("Invalid Accept header %q: use application/json or application/yaml", a)
	}
	var exts []string
	for _, v := range r.URL.Query()["extensions"] {
		for e := range strings.SplitSeq(v, ",") {
			switch e = strings.TrimSpace(e); e {
			case "integrations", "authorizers", "apigateway", "postman":
				exts = append(exts, e)
			case "":
			default:
				return badRequest("Invalid extensions value %q: use integrations, authorizers, apigateway or postman", e)
			}
		}
	}
	if s.exporter == nil {
		return notFound("Exports are not available in this portway")
	}
	body, err := s.exporter.Export(stageName, exportType, format, exts)
	if err != nil {
		return badRequest("%v", err)
	}
	w.Header().Set("Content-Type", "application/"+format)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.%s"`, s.m.api.ID, stageName, exportType, ext))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}
