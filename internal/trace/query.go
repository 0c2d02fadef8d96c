package trace

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// QueryPath is where the control API serves traces: GET QueryPath
// (?last=N&status=5xx) lists recent ones, newest first; GET QueryPath/ID
// is one, by trace id or request id.
const QueryPath = "/traces"

// MaxLast bounds ?last.
const MaxLast = 1000

// QueryHandler serves st's traces as JSON (mount it on the control API,
// which authenticates).
func QueryHandler(st *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, QueryPath), "/")
		if id != "" {
			t, ok := st.Get(id)
			if !ok {
				writeJSONError(w, http.StatusNotFound, "no trace with trace id or request id "+strconv.Quote(id)+" among the recent ones")
				return
			}
			writeJSON(w, t)
			return
		}
		q := r.URL.Query()
		last := 20
		if v := q.Get("last"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLast {
				writeJSONError(w, http.StatusBadRequest, "last: want a number from 1 to "+strconv.Itoa(MaxLast))
				return
			}
			last = n
		}
		f, err := ParseStatusFilter(q.Get("status"))
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		traces := st.Recent(last, f)
		if traces == nil {
			traces = []Trace{}
		}
		writeJSON(w, struct {
			Traces []Trace `json:"traces"`
		}{traces})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
