package worker

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portway/portway/internal/egress"
	"github.com/portway/portway/internal/storage/bagtest"
	"github.com/portway/portway/internal/storage/model"
)

// receiver is a callback receiver on 127.0.0.1 that counts the
// connections and requests it gets.
type receiver struct {
	*httptest.Server
	conns, requests atomic.Int32
}

func newReceiver(t *testing.T, h http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if h != nil {
			h(w, req)
		}
	}))
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) addr() string { return strings.TrimPrefix(r.URL, "http://") }

func lastEvent(in model.Ingest) string {
	if len(in.Events) == 0 {
		return ""
	}
	return in.Events[len(in.Events)-1].Description
}

// A callback to a denied address fails at once, with no connection made
// and no retry (the back-off is an hour: a retry would outlast the test's
// deadline), and an event that says why.
func TestCallbackRefused(t *testing.T) {
	denied := newReceiver(t, nil)
	e := newEnv(t)
	e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1"})
	for _, tt := range []struct {
		name  string
		cb    egress.Config
		url   string
		event string // want the last event to start with it
	}{
		{"an address of this stack", egress.Config{Allow: []string{"127.0.0.0/8"}, Deny: []string{denied.addr()}},
			denied.URL + "/cb", "Callback refused - " + denied.addr() + " is an address of this stack"},
		{"a whole denied range", egress.Config{Allow: []string{"127.0.0.0/8"}, Deny: []string{"127.0.0.0/24"}},
			denied.URL + "/cb", "Callback refused - " + denied.addr() + " is an address of this stack"},
		{"loopback not allowed", egress.Config{},
			denied.URL + "/cb", "Callback refused - " + denied.addr() + " is a loopback address not in storage.callbacks.allow"},
		// A name is refused on what it resolves to, at dial time: localhost
		// is 127.0.0.1 (denied) and perhaps ::1 (not allowed).
		{"a name resolving to a denied address", egress.Config{Allow: []string{"127.0.0.0/8"}, Deny: []string{"127.0.0.1"}},
			strings.Replace(denied.URL, "127.0.0.1", "localhost", 1) + "/cb", "Callback refused - "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.startWorkerConfig(t, e.st, func(c *Config) {
				c.Callbacks, c.CallbackTries, c.CallbackBackoff = tt.cb, 3, time.Hour
			}, nil)
			in := e.waitDone(t, e.create(t, model.IngestCreate, "b1", "b1.tar.gz", tt.url))
			if in.Callback.Status != model.CallbackFailed || !strings.HasPrefix(lastEvent(in), tt.event) {
				t.Fatalf("callback %s, events %q\nwant failed, last event %q…", in.Callback.Status, descriptions(in), tt.event)
			}
			if n := strings.Count(strings.Join(descriptions(in), "\n"), "Callback"); n != 1 {
				t.Fatalf("%d callback events: %q", n, descriptions(in))
			}
		})
	}
	if c, r := denied.conns.Load(), denied.requests.Load(); c != 0 || r != 0 {
		t.Fatalf("the denied receiver got %d connections, %d requests", c, r)
	}
}

// An allowed receiver gets the callback; a failing one is tried
// CallbackTries times and the event says so, without the cause (connection
// refused, timeout or an error status all read the same).
func TestCallbackAllowed(t *testing.T) {
	ok := newReceiver(t, nil)
	failing := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	e := newEnv(t)
	e.startWorkerConfig(t, e.st, func(c *Config) {
		c.Callbacks = egress.Config{Allow: []string{"127.0.0.1/32"}, Deny: []string{"127.0.0.1:1"}}
		c.CallbackTries = 2
	}, nil)
	e.putBag(t, "b1.tar.gz", bagtest.Options{ExternalIdentifier: "b1"})
	in := e.waitDone(t, e.create(t, model.IngestCreate, "b1", "b1.tar.gz", ok.URL+"/cb"))
	if in.Callback.Status != model.CallbackSucceeded || ok.requests.Load() != 1 {
		t.Fatalf("callback %s, %d requests, events %q", in.Callback.Status, ok.requests.Load(), descriptions(in))
	}
	in = e.waitDone(t, e.create(t, model.IngestCreate, "b2", "none.tar.gz", failing.URL+"/cb"))
	if in.Callback.Status != model.CallbackFailed || failing.requests.Load() != 2 ||
		lastEvent(in) != "Callback failed - not delivered in 2 tries" {
		t.Fatalf("callback %s, %d requests, events %q", in.Callback.Status, failing.requests.Load(), descriptions(in))
	}
}

// A redirect is not followed, least of all to a denied address.
func TestCallbackRedirectNotFollowed(t *testing.T) {
	denied := newReceiver(t, nil)
	redirector := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, denied.URL+"/cb", http.StatusTemporaryRedirect)
	})
	e := newEnv(t)
	e.startWorkerConfig(t, e.st, func(c *Config) {
		c.Callbacks = egress.Config{Allow: []string{"127.0.0.0/8"}, Deny: []string{denied.addr()}}
		c.CallbackTries = 1
	}, nil)
	in := e.waitDone(t, e.create(t, model.IngestCreate, "b1", "none.tar.gz", redirector.URL+"/cb"))
	if in.Callback.Status != model.CallbackFailed || redirector.requests.Load() != 1 {
		t.Fatalf("callback %s, %d requests to the redirector", in.Callback.Status, redirector.requests.Load())
	}
	if c := denied.conns.Load(); c != 0 {
		t.Fatalf("the redirect target got %d connections", c)
	}
}

// A receiver that answers 200 with an endless body does not hold the
// worker: at most 64 KiB is read, then the connection is closed.
func TestCallbackHugeResponse(t *testing.T) {
	var written atomic.Int64
	huge := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 32<<10)
		for written.Load() < 1<<30 && r.Context().Err() == nil {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	e := newEnv(t)
	e.startWorker(t, e.st, nil)
	start := time.Now()
	in := e.waitDone(t, e.create(t, model.IngestCreate, "b1", "none.tar.gz", huge.URL+"/cb"))
	if in.Callback.Status != model.CallbackSucceeded {
		t.Fatalf("callback %s, events %q", in.Callback.Status, descriptions(in))
	}
	if w := written.Load(); w >= 1<<30 {
		t.Fatalf("the worker read the whole gigabyte (%d bytes written in %s)", w, time.Since(start))
	}
}
