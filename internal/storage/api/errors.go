// Package api holds what the bags and ingests APIs share: the error type
// handlers return, the one place that turns errors into responses, JSON
// writing, public URLs and the health check.
package api

import (
	"fmt"
	"net/http"
	"strings"
)

// Error is an error with an HTTP status and a client-facing description.
// Handlers return it; Handle writes it. Cause, if set, is logged and never
// shown to the client.
type Error struct {
	Status      int
	Description string
	Allow       []string // for 405: the Allow header
	Cause       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Description)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with a formatted description.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Description: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with this description.
func BadRequest(description string) *Error {
	return &Error{Status: http.StatusBadRequest, Description: description}
}

// NotFound is a 404 with this description.
func NotFound(description string) *Error {
	return &Error{Status: http.StatusNotFound, Description: description}
}

// ResourceNotFound is the 404 for a path no route matches.
func ResourceNotFound() *Error {
	return NotFound("The requested resource could not be found.")
}

// MethodNotAllowed is a 405 naming the methods the path supports.
func MethodNotAllowed(allow ...string) *Error {
	return &Error{
		Status:      http.StatusMethodNotAllowed,
		Description: "HTTP method not allowed, supported methods: " + strings.Join(allow, ", "),
		Allow:       allow,
	}
}

// Body is the JSON shape of every error response.
type Body struct {
	HTTPStatus  int    `json:"httpStatus"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
}

// Label is the reason phrase for a status, as the real service (akka-http)
// spells it.
func Label(status int) string {
	switch status {
	case http.StatusRequestEntityTooLarge:
		return "Payload Too Large"
	case http.StatusRequestURITooLong:
		return "URI Too Long"
	case http.StatusRequestedRangeNotSatisfiable:
		return "Range Not Satisfiable"
	}
	if s := http.StatusText(status); s != "" {
		return s
	}
	return "Unknown"
}

// ErrorBody builds the body for a status. Server errors never carry a
// description.
func ErrorBody(status int, description string) Body {
	b := Body{HTTPStatus: status, Label: Label(status), Description: description, Type: "Error"}
	if status >= 500 {
		b.Description = ""
	}
	return b
}
