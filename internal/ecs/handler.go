package ecs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Handler serves the task and service API:
//
//	GET  /ecs/tasks[?service=NAME]       → {"tasks":[TaskStatus...]}
//	GET  /ecs/services                   → {"services":[ServiceStatus...]}
//	GET  /ecs/services/{name}            → ServiceStatus
//	POST /ecs/services/{name}/scale      {"desiredCount":N} → ServiceStatus
//	POST /ecs/services/{name}/deploy     → ServiceStatus (the new deployment is deployments[0])
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ecs/tasks", handlerFunc(s.listTasks))
	mux.Handle("GET /ecs/services", handlerFunc(s.listServices))
	mux.Handle("GET /ecs/services/{name}", handlerFunc(s.describeService))
	mux.Handle("POST /ecs/services/{name}/scale", handlerFunc(s.scaleService))
	mux.Handle("POST /ecs/services/{name}/deploy", handlerFunc(s.deployService))
	return mux
}

func (s *Supervisor) listServices(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, struct {
		Services []ServiceStatus `json:"services"`
	}{s.Services()})
	return nil
}

func (s *Supervisor) serviceStatus(name string) (ServiceStatus, error) {
	for _, st := range s.Services() {
		if st.Name == name {
			return st, nil
		}
	}
	return ServiceStatus{}, &httpError{http.StatusNotFound, "service not found: " + name}
}

func (s *Supervisor) describeService(w http.ResponseWriter, r *http.Request) error {
	st, err := s.serviceStatus(r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Supervisor) scaleService(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var body struct {
		DesiredCount *int `json:"desiredCount"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return &httpError{http.StatusBadRequest, "body: " + err.Error()}
	}
	if body.DesiredCount == nil {
		return &httpError{http.StatusBadRequest, "desiredCount: required"}
	}
	if *body.DesiredCount < 0 || *body.DesiredCount > maxDesiredCount {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("desiredCount: must be 0..%d", maxDesiredCount)}
	}
	if err := s.Scale(name, *body.DesiredCount); err != nil {
		return notFoundOr(err)
	}
	return s.describeService(w, r)
}

func (s *Supervisor) deployService(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.Deploy(r.PathValue("name")); err != nil {
		return notFoundOr(err)
	}
	return s.describeService(w, r)
}

// maxDesiredCount bounds scaling through the API (a /24 task subnet has 254
// addresses).
const maxDesiredCount = 1000

func notFoundOr(err error) error {
	if errors.Is(err, ErrServiceNotFound) {
		return &httpError{http.StatusNotFound, err.Error()}
	}
	return err
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// handlerFunc turns a handler's error into a JSON response, in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := f(w, r)
	if err == nil {
		return
	}
	status := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	}
	writeJSON(w, status, map[string]string{"message": err.Error()})
}

func (s *Supervisor) listTasks(w http.ResponseWriter, r *http.Request) error {
	service := r.URL.Query().Get("service")
	if service != "" && !s.hasService(service) {
		return &httpError{http.StatusNotFound, "service not found: " + service}
	}
	tasks := s.Tasks()
	if service != "" {
		kept := tasks[:0]
		for _, t := range tasks {
			if t.Service == service {
				kept = append(kept, t)
			}
		}
		tasks = kept
	}
	writeJSON(w, http.StatusOK, struct {
		Tasks []TaskStatus `json:"tasks"`
	}{tasks})
	return nil
}

func (s *Supervisor) hasService(name string) bool {
	for _, sv := range s.services {
		if sv.name == name {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
