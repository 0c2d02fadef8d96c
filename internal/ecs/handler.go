package ecs

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Handler serves the read-only task API:
//
//	GET /ecs/tasks[?service=NAME] → {"tasks":[TaskStatus...]}
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ecs/tasks", handlerFunc(s.listTasks))
	return mux
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
		if sv.cfg.Name == name {
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
