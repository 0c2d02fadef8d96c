// Package sidecar is the nginx-style proxy that runs in front of every app
// container of a task: it forwards everything to the app on the task's own IP,
// sets X-Real-IP / X-Forwarded-For like nginx's proxy_set_header, passes the
// gateway's X-Forwarded-Proto/-Host/-Prefix through unchanged and adds the
// storage service's CORS headers to every response.
package sidecar

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"
)

// Defaults, modelled on the nginx directives the storage service relies on.
const (
	DefaultMaxBodyBytes      = 12 << 20 // client_max_body_size 12m
	DefaultMaxHeaderBytes    = 64 << 10 // large_client_header_buffers, generous for JWTs
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second // client_body_timeout
	DefaultWriteTimeout      = 120 * time.Second
	DefaultIdleTimeout       = 75 * time.Second // keepalive_timeout
	DefaultConnectTimeout    = 5 * time.Second  // proxy_connect_timeout (nginx: 60s; upstream is local)
	DefaultUpstreamTimeout   = 60 * time.Second // proxy_read_timeout: time to response headers
)

// Config configures a Sidecar. Zero durations and sizes take the defaults above.
type Config struct {
	// Listen is the address to bind, e.g. "127.77.1.1:9000"; port 0 picks a free port.
	Listen string
	// Upstream is the app's base URL, e.g. "http://127.77.1.1:9001".
	Upstream string
	// Traces, when set, gets the sidecar's hop of every request that
	// carries an X-Amzn-Trace-Id (package trace); nil: not recorded.
	Traces HopRecorder

	// Logger receives access and error logs; nil discards.
	Logger *slog.Logger

	// MaxBodyBytes is the largest request body accepted (413 above it).
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request header block.
	MaxHeaderBytes int
	// ReadHeaderTimeout (client_header_timeout), ReadTimeout
	// (client_body_timeout), WriteTimeout (send_timeout, for a whole
	// response) and IdleTimeout (keepalive_timeout) bound the client side.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ConnectTimeout bounds dialing the upstream; UpstreamTimeout bounds the
	// wait for the upstream's response headers (504 after it).
	ConnectTimeout  time.Duration
	UpstreamTimeout time.Duration

	// ProxyProtocol requires every connection to start with a PROXY protocol
	// header (v2 as the load balancer sends with proxy protocol v2 on, or
	// v1 text) and uses the client address it conveys for X-Real-IP,
	// X-Forwarded-For and the access log, like nginx's
	// "listen … proxy_protocol" with "set_real_ip_from". Connections without
	// a valid header are closed. Default off.
	ProxyProtocol bool
	// ProxyHeaderTimeout bounds the wait for that header (default 5s).
	ProxyHeaderTimeout time.Duration

	// ServerHeader is the Server field of every answer, as nginx sends its
	// own ("nginx" with server_tokens off); the app's Server is hidden, as
	// nginx's proxy_hide_header does by default. "" sends none. (`portway
	// sidecar` defaults to "nginx".)
	ServerHeader string
}

// Validate checks the config; errors name the offending field.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: required"))
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	if c.Upstream == "" {
		errs = append(errs, errors.New("upstream: required"))
	} else if u, err := url.Parse(c.Upstream); err != nil {
		errs = append(errs, fmt.Errorf("upstream: %w", err))
	} else if u.Scheme != "http" || u.Host == "" {
		errs = append(errs, fmt.Errorf("upstream: must be an http://host:port URL, got %q", c.Upstream))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, errors.New("upstream: must not have a query or fragment"))
	}
	for _, c := range []byte(c.ServerHeader) {
		if c < ' ' || c == 0x7f {
			errs = append(errs, errors.New("serverHeader: must not contain control characters (CR, LF, …)"))
			break
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"maxBodyBytes", c.MaxBodyBytes},
		{"maxHeaderBytes", int64(c.MaxHeaderBytes)},
		{"readHeaderTimeout", int64(c.ReadHeaderTimeout)},
		{"readTimeout", int64(c.ReadTimeout)},
		{"writeTimeout", int64(c.WriteTimeout)},
		{"idleTimeout", int64(c.IdleTimeout)},
		{"connectTimeout", int64(c.ConnectTimeout)},
		{"upstreamTimeout", int64(c.UpstreamTimeout)},
		{"proxyHeaderTimeout", int64(c.ProxyHeaderTimeout)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must be >= 0", f.name))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.UpstreamTimeout, DefaultUpstreamTimeout)
	def(&c.ProxyHeaderTimeout, DefaultProxyHeaderTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
