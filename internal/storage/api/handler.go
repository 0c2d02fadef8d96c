package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// HandlerFunc is an HTTP handler that reports failure by returning an
// error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to an http.Handler. It is the one place where errors
// become responses: an *Error is written as it says, a request body over
// its http.MaxBytesReader limit becomes 413, and anything else (or a
// panic) is logged and becomes a 500 without details.
func Handle(logger *slog.Logger, h HandlerFunc) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.Error("handler panic", "method", r.Method, "path", r.URL.EscapedPath(),
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !sw.wrote {
					WriteError(sw, http.StatusInternalServerError, "", nil)
				}
			}
		}()
		if err := h(sw, r); err != nil {
			writeErr(logger, sw, r, err)
		}
	})
}

func writeErr(logger *slog.Logger, w *statusWriter, r *http.Request, err error) {
	var (
		apiErr *Error
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Cause != nil || apiErr.Status >= 500 {
			logger.Error("request failed", "method", r.Method, "path", r.URL.EscapedPath(), "status", apiErr.Status, "err", err)
		}
		if w.wrote {
			return
		}
		WriteError(w, apiErr.Status, apiErr.Description, apiErr.Allow)
	case errors.As(err, &tooBig):
		if w.wrote {
			return
		}
		WriteError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("The request content was too large: the limit is %d bytes.", tooBig.Limit), nil)
	default:
		logger.Error("request failed", "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
		if w.wrote {
			return
		}
		WriteError(w, http.StatusInternalServerError, "", nil)
	}
}

// WriteError writes the JSON error body for a status.
func WriteError(w http.ResponseWriter, status int, description string, allow []string) {
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
	}
	_ = WriteJSON(w, status, ErrorBody(status, description))
}

// WriteJSON writes v as a JSON response with an exact Content-Length.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err // the client went away; nothing more to do
}

// statusWriter remembers the status, so that a handler error after the
// response started is only logged.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// AccessLog logs one line per request at Info (health checks at Debug): method, path, status,
// duration and the gateway's trace id. It never logs headers or bodies.
func AccessLog(logger *slog.Logger, next http.Handler) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if !sw.wrote {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if r.URL.Path == HealthcheckPath {
			level = slog.LevelDebug // health checks arrive every few seconds
		}
		ctx := r.Context()
		if !logger.Enabled(ctx, level) {
			return
		}
		// Typed attributes, at most five: they fit in the record without
		// boxing each value or allocating a slice per request.
		attrs := [5]slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)),
		}
		n := 4
		if id := r.Header.Get("X-Amzn-Trace-Id"); id != "" && len(id) <= 256 {
			attrs[n] = slog.String("trace_id", id)
			n++
		}
		logger.LogAttrs(ctx, level, "request", attrs[:n]...)
	})
}
