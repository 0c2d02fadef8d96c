package api

import (
	"net/http"
	"strconv"
)

// HealthcheckPath is the target group's health-check path.
const HealthcheckPath = "/management/healthcheck"

// Healthcheck answers GET (and HEAD) with 200 "ok" as text/plain.
func Healthcheck(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return MethodNotAllowed(http.MethodGet)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len("ok")))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte("ok"))
	return err
}

// IsGet reports whether the method reads (GET, or HEAD, which net/http
// answers with the GET response's headers and no body).
func IsGet(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }
