package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/bufpool"
)

// CORSHeaders are the headers the storage service's nginx adds to every
// response. They replace any value the app set, so they are never duplicated.
var corsHeaders = [...][2]string{
	{"Access-Control-Allow-Origin", "*"},
	{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
	{"Access-Control-Allow-Headers", "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type"},
	{"Access-Control-Allow-Credentials", "true"},
}

// CORSHeaders returns a fresh copy of the headers added to every response.
func CORSHeaders() http.Header {
	h := make(http.Header, len(corsHeaders))
	setCORS(h)
	return h
}

// corsValues holds the CORS values as header slices, so that setCORS
// assigns them without canonicalizing keys or allocating. The slices are
// shared by every response: net/http only reads them (ReverseProxy copies
// response headers value by value into the client's header map).
var corsValues = func() (v [len(corsHeaders)][]string) {
	for i, kv := range corsHeaders {
		v[i] = []string{kv[1]}
	}
	return v
}()

func setCORS(h http.Header) {
	for i, kv := range corsHeaders {
		h[kv[0]] = corsValues[i][:1:1] // full slice expression: appends copy
	}
}

// headers passed through from the client unchanged. ReverseProxy strips the
// first three before Rewrite runs, so they are copied back from the inbound
// request (nginx forwards every client header it does not override).
var passThrough = []string{"Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix"}

// newProxy builds the reverse proxy for upstream.
func newProxy(cfg Config, upstream *url.URL, transport http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// proxy_set_header Host $host: keep the Host the client used
			// (port included, so apps falling back to r.Host build usable URLs).
			pr.Out.Host = pr.In.Host
			for _, k := range passThrough {
				if v, ok := pr.In.Header[k]; ok {
					pr.Out.Header[k] = v[:len(v):len(v)] // read only; appends copy
				}
			}
			clientIP := clientIP(pr.In)
			// proxy_set_header X-Real-IP $remote_addr;
			// proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			xff := clientIP
			if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
				xff = strings.Join(prior, ", ") + ", " + clientIP
			}
			// One allocation for both values; keys are already canonical.
			vals := [2]string{clientIP, xff}
			pr.Out.Header["X-Real-Ip"] = vals[0:1:1]
			pr.Out.Header["X-Forwarded-For"] = vals[1:2:2]
		},
		Transport:  transport,
		BufferPool: bufpool.New(),
		ModifyResponse: func(resp *http.Response) error {
			setCORS(resp.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			handleProxyError(cfg.Logger, w, r, err)
		},
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
}

func newTransport(cfg Config) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never route task-local traffic through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   cfg.ConnectTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:           128,
		MaxIdleConnsPerHost:    128, // one upstream: keep plenty of warm connections
		IdleConnTimeout:        60 * time.Second,
		ResponseHeaderTimeout:  cfg.UpstreamTimeout,
		ExpectContinueTimeout:  1 * time.Second,
		MaxResponseHeaderBytes: int64(cfg.MaxHeaderBytes),
		DisableCompression:     true, // pass bodies through as the app sent them
	}
}

// clientIP is the host part of the peer address ($remote_addr).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusError is a response the sidecar generates itself.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return fmt.Sprintf("%d: %v", e.code, e.err) }
func (e *statusError) Unwrap() error { return e.err }

// classify maps a proxy error to the status nginx would answer with.
// It returns 0 when the client went away (nginx logs 499 and answers nothing).
func classify(r *http.Request, err error) int {
	var mbe *http.MaxBytesError
	var se *statusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		return 0
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

// handleProxyError is the one place errors become responses.
func handleProxyError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code := classify(r, err)
	if code == 0 {
		log.Debug("client closed request", "method", r.Method, "path", r.URL.Path)
		if sw, ok := w.(*statusWriter); ok {
			sw.status = 499
		}
		return
	}
	if code >= 500 {
		log.Warn("upstream error", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	writeError(w, code)
}

// writeError writes a small nginx-like HTML error page, CORS headers included.
func writeError(w http.ResponseWriter, code int) {
	text := http.StatusText(code)
	switch code {
	case http.StatusGatewayTimeout:
		text = "Gateway Time-out" // nginx's spelling
	case http.StatusRequestEntityTooLarge:
		text = "Request Entity Too Large"
	}
	title := strconv.Itoa(code) + " " + text
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
		title + "</h1></center>\r\n<hr><center>portway sidecar</center>\r\n</body>\r\n</html>\r\n"
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	setCORS(h)
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if code == http.StatusRequestEntityTooLarge {
		h.Set("Connection", "close")
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
