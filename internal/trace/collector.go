package trace

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Collector bounds: one batch's body and hops, and each string field.
const (
	maxBatchBytes = 1 << 20
	maxBatchHops  = 1024
	maxFieldLen   = 256
)

// IngestPath is the collector's endpoint.
const IngestPath = "/v1/hops"

// CollectorConfig is the hop collector's: where it listens (loopback),
// the store it fills, and the token tasks send.
type CollectorConfig struct {
	Listen string // default 127.0.0.1:0
	Store  *Store
	Token  string // default: a new random one (Token())
}

// Collector takes hop batches from the task containers (sidecars and
// apps) on a loopback listener of its own, guarded by a token of its own:
// tasks get this token, never the control API's, and may only add sidecar
// and app hops.
type Collector struct {
	cfg CollectorConfig
	srv *http.Server
	ln  net.Listener
}

// NewCollector checks cfg.
func NewCollector(cfg CollectorConfig) (*Collector, error) {
	if cfg.Store == nil {
		return nil, errors.New("trace collector: no store")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Token == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("trace collector token: %w", err)
		}
		cfg.Token = hex.EncodeToString(b[:])
	}
	c := &Collector{cfg: cfg}
	mux := http.NewServeMux()
	mux.Handle(IngestPath, IngestHandler(cfg.Store, cfg.Token))
	c.srv = &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10,
	}
	return c, nil
}

// Start binds the listener (loopback only) and serves.
func (c *Collector) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("trace collector: listen on %s: %w", c.cfg.Listen, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("trace collector: %s is not a loopback address", c.cfg.Listen)
	}
	c.ln = ln
	go func() { _ = c.srv.Serve(ln) }()
	return nil
}

// Stop shuts the server down, bounded by ctx.
func (c *Collector) Stop(ctx context.Context) error {
	if c.ln == nil {
		return nil
	}
	return c.srv.Shutdown(ctx)
}

// Addr is the bound address ("" before Start).
func (c *Collector) Addr() string {
	if c.ln == nil {
		return ""
	}
	return c.ln.Addr().String()
}

// Env is what a task needs to report: $PORTWAY_TRACE_URL and $PORTWAY_TRACE_TOKEN.
func (c *Collector) Env() []string {
	return []string{EnvURL + "=http://" + c.Addr() + IngestPath, EnvToken + "=" + c.cfg.Token}
}

// IngestHandler takes POSTed batches (wire.go: a hop a line) into st,
// with "Bearer token". Only sidecar and app hops with a valid trace id are
// kept; long fields are cut. 204 on success; a malformed line refuses the
// rest of the batch (400).
func IngestHandler(st *Store, token string) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBatchBytes+1))
		if err != nil {
			http.Error(w, "bad batch: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxBatchBytes {
			http.Error(w, fmt.Sprintf("bad batch: over %d bytes", maxBatchBytes), http.StatusRequestEntityTooLarge)
			return
		}
		if bytes.Count(body, []byte{'\n'}) > maxBatchHops {
			http.Error(w, fmt.Sprintf("bad batch: more than %d hops", maxBatchHops), http.StatusRequestEntityTooLarge)
			return
		}
		var ws wireStrings
		for n := 1; len(body) > 0; n++ {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			h, err := parseWireWith(&ws, line)
			if err != nil {
				http.Error(w, fmt.Sprintf("bad batch: line %d: %v", n, err), http.StatusBadRequest)
				return
			}
			if h.Kind != KindSidecar && h.Kind != KindApp {
				continue
			}
			st.Add(clean(h))
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// clean keeps what a task may say of its hop, bounded.
func clean(h Hop) Hop {
	return Hop{
		Kind: h.Kind, Trace: h.Trace, Start: h.Start, Duration: max(h.Duration, 0), Status: h.Status,
		Method: cut(h.Method), Path: cut(h.Path),
		UpstreamStatus: h.UpstreamStatus, UpstreamTime: max(h.UpstreamTime, 0),
		Task: cut(h.Task), Addr: cut(h.Addr), Error: cut(h.Error),
	}
}

func cut(s string) string {
	if len(s) > maxFieldLen {
		return strings.ToValidUTF8(s[:maxFieldLen], "")
	}
	return s
}
