package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portway/portway/internal/bufpool"
)

// remappedHeaders come back from the backend also as x-amzn-Remapped-<Name>.
// Content-Length stays real for the client; Date is replaced by the gateway's
// own and Server is dropped; Connection is hop-by-hop and never forwarded.
var remappedHeaders = [...]string{"Connection", "Content-Length", "Date", "Server"}

// proxyCall carries one request's integration state through ReverseProxy.
type proxyCall struct {
	target   *url.URL
	prefix   string // X-Forwarded-Prefix: "/stage" or "/base/path"
	traceID  string
	parent   context.Context // the client's context, without the integration timeout
	st       *reqState
	tooLarge atomic.Bool // request body hit the limit while streaming
	bodyTime atomic.Bool // reading the request body from the client timed out
}

type proxyCallKey struct{}

func callFrom(ctx context.Context) *proxyCall {
	pc, _ := ctx.Value(proxyCallKey{}).(*proxyCall)
	return pc
}

func newTransport(link VPCLink) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if link != nil {
		dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			if c, ok, err := link.DialListener(ctx, address); ok {
				return c, err
			}
			return d.DialContext(ctx, network, address)
		}
	}
	return &http.Transport{
		Proxy:                  nil, // never use proxies from the environment
		DialContext:            dial,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true, // bodies pass through untouched
	}
}

func (g *Gateway) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      &remapTransport{base: g.transport, now: g.now},
		ModifyResponse: modifyResponse,
		BufferPool:     bufpool.New(),
		ErrorHandler:   g.proxyError,
		ErrorLog:       slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
}

// rewrite points the request at the integration URI, keeps the method, body,
// query string and headers (Authorization included, as AWS does) and adds the
// forwarding headers. ReverseProxy has already dropped hop-by-hop headers and
// any client-supplied Forwarded / X-Forwarded-For/-Host/-Proto.
func rewrite(pr *httputil.ProxyRequest) {
	pc := callFrom(pr.In.Context())
	u := *pc.target
	if q := pr.In.URL.RawQuery; q != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&" + q
		} else {
			u.RawQuery = q
		}
	}
	pr.Out.URL = &u
	pr.Out.Host = ""
	// As AWS does, append the client's address to any X-Forwarded-For it sent.
	if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		pr.Out.Header["X-Forwarded-For"] = append([]string(nil), xff...)
	}
	pr.SetXForwarded() // X-Forwarded-For, -Host (the client's Host), -Proto
	pr.Out.Header.Set("X-Forwarded-Prefix", pc.prefix)
	pr.Out.Header.Set("X-Amzn-Trace-Id", pc.traceID)
}

// remapTransport records the integration latency and copies the backend's
// Connection/Content-Length/Date/Server headers to x-amzn-Remapped-* before
// ReverseProxy strips hop-by-hop headers.
type remapTransport struct {
	base http.RoundTripper
	now  func() time.Time
}

func (t *remapTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := t.now()
	res, err := t.base.RoundTrip(req)
	if pc := callFrom(req.Context()); pc != nil {
		pc.st.integrationLatency = t.now().Sub(start)
	}
	if err != nil {
		return nil, err
	}
	for _, name := range remappedHeaders {
		vs := res.Header.Values(name)
		if len(vs) == 0 {
			// net/http consumes some of these while parsing; recover them.
			switch {
			case name == "Content-Length" && res.ContentLength >= 0 && len(res.TransferEncoding) == 0:
				vs = []string{strconv.FormatInt(res.ContentLength, 10)}
			case name == "Connection" && res.Close:
				vs = []string{"close"}
			}
		}
		if len(vs) > 0 {
			res.Header["X-Amzn-Remapped-"+name] = append([]string(nil), vs...)
		}
	}
	return res, nil
}

func modifyResponse(res *http.Response) error {
	res.Header.Del("Date") // net/http adds the gateway's own
	res.Header.Del("Server")
	// The gateway's own ids are already set; drop a backend's copies.
	res.Header.Del(headerRequestID)
	res.Header.Del(headerAPIGWID)
	return nil
}

// proxyError turns integration errors into gateway responses.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	pc := callFrom(r.Context())
	if pc == nil { // cannot happen: every proxied request carries its call
		g.writeError(w, r, &reqState{}, newGWError(RespAPIConfigurationError, err.Error()))
		return
	}
	var tooBig *http.MaxBytesError
	switch {
	case pc.tooLarge.Load() || errors.As(err, &tooBig):
		g.writeError(w, r, pc.st, newGWError(RespRequestTooLarge, "request body over limit"))
	case pc.bodyTime.Load():
		// The client stalled while sending its body (timeouts.read). AWS has
		// no response type for it; answer 408 through DEFAULT_4XX.
		w.Header().Set("Connection", "close")
		g.writeError(w, r, pc.st, &gwError{typ: RespDefault4XX, status: http.StatusRequestTimeout, message: "Request Timeout", reason: "client request body timed out"})
	case pc.parent.Err() != nil:
		pc.st.status = statusClientClosed // nobody is listening any more
		pc.st.reason = "client closed request"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded):
		g.writeError(w, r, pc.st, newGWError(RespIntegrationTimeout, "integration timed out"))
	default:
		// AWS: "Execution failed due to configuration error", 500.
		g.writeError(w, r, pc.st, newGWError(RespAPIConfigurationError, "integration: "+err.Error()))
	}
}

// limitedBody notes when the request body limit is hit while streaming, or
// when reading from the client timed out.
type limitedBody struct {
	io.ReadCloser
	tooLarge *atomic.Bool
	timedOut *atomic.Bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		var tooBig *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooBig):
			b.tooLarge.Store(true)
		case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
			b.timedOut.Store(true)
		}
	}
	return n, err
}
