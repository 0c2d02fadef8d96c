package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portway/portway/internal/storage/model"
	"github.com/portway/portway/internal/storage/store"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Kind: "bags", Listen: "127.0.0.1:0", DBPath: "/tmp/x.db"}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"ingests", func(c *Config) { c.Kind = "ingests" }, ""},
		{"no kind", func(c *Config) { c.Kind = "" }, `kind: must be "bags" or "ingests"`},
		{"bad kind", func(c *Config) { c.Kind = "items" }, `kind: must be "bags" or "ingests", got "items"`},
		{"no listen", func(c *Config) { c.Listen = "" }, "listen: must not be empty"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "listen: must be host:port"},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, `listen: port "http" must be a number`},
		{"listen port too big", func(c *Config) { c.Listen = "127.0.0.1:70000" }, `listen: port "70000"`},
		{"no db", func(c *Config) { c.DBPath = "" }, "dbPath: must not be empty"},
		{"memory db", func(c *Config) { c.DBPath = ":memory:" }, "dbPath: must be a plain file path"},
		{"db with query", func(c *Config) { c.DBPath = "x.db?mode=ro" }, "dbPath: must be a plain file path"},
		{"callbacks", func(c *Config) {
			c.Callbacks.Allow, c.Callbacks.Deny = []string{"127.0.0.0/8", "::1/128"}, []string{"127.77.0.10", "127.0.0.1:8082", "127.77.1.0/24"}
		}, ""},
		{"callback allow", func(c *Config) { c.Callbacks.Allow = []string{"127.0.0.0/8", "localhost"} }, `callbacks.allow[1]: "localhost" is not a CIDR`},
		{"callback deny", func(c *Config) { c.Callbacks.Deny = []string{"127.0.0.1:http"} }, `callbacks.deny[0]: "127.0.0.1:http" is not an IP, IP:port or CIDR`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if _, err := New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	err := Config{}.Validate()
	for _, f := range []string{"kind:", "listen:", "dbPath:"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("zero config error %v does not name %s", err, f)
		}
	}
}

var clock = func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }

func startApp(t *testing.T, kind, db string) *App {
	t.Helper()
	// No worker: these tests read ingests back exactly as created.
	a, err := New(Config{Kind: kind, Listen: "127.0.0.1:0", DBPath: db, Now: clock, WorkerConcurrency: -1})
	if err != nil {
		t.Fatal(err)
	}
	if a.Addr() != "" {
		t.Fatalf("Addr before Start = %q", a.Addr())
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A connection the client dialed but never used counts as busy for
		// 5 s in http.Server.Shutdown; close the client's idle ones first.
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return a
}

func call(t *testing.T, method, url, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

const ingestBody = `{"type":"Ingest","ingestType":{"id":"create","type":"IngestType"},
	"space":{"id":"digitised","type":"Space"},
	"sourceLocation":{"type":"Location","provider":{"type":"Provider","id":"amazon-s3"},"bucket":"uploads","path":"b.tar.gz"},
	"bag":{"type":"Bag","info":{"type":"BagInfo","externalIdentifier":"%s"}}}`

func TestHealthcheckAndUnknownPaths(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage.db")
	for _, kind := range []string{KindBags, KindIngests} {
		t.Run(kind, func(t *testing.T) {
			a := startApp(t, kind, db)
			res, body := call(t, "GET", a.URL()+"/management/healthcheck", "", "")
			if res.StatusCode != 200 || body != "ok" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("healthcheck: %d %q %q", res.StatusCode, body, res.Header.Get("Content-Type"))
			}
			other := map[string]string{KindBags: "/ingests", KindIngests: "/bags/digitised/b1"}[kind]
			for _, p := range []string{"/", "/nope", "/management", other} {
				res, body := call(t, "GET", a.URL()+p, "", "")
				want := `{"httpStatus":404,"label":"Not Found","description":"The requested resource could not be found.","type":"Error"}`
				if res.StatusCode != 404 || body != want || res.Header.Get("Content-Type") != "application/json" {
					t.Errorf("GET %s: %d %s", p, res.StatusCode, body)
				}
			}
		})
	}
}

// Two ingests apps and a bags app share one database file, as the tasks
// of both services do: an ingest created through one is visible through
// the other, and a bag registered in the store is served by the bags app.
func TestAppsShareTheStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "state", "storage.db")
	a1 := startApp(t, KindIngests, db)
	a2 := startApp(t, KindIngests, db)
	bagsApp := startApp(t, KindBags, db)

	res, created := call(t, "POST", a1.URL()+"/ingests", "application/json", fmt.Sprintf(ingestBody, "b1"))
	if res.StatusCode != 201 {
		t.Fatalf("POST: %d %s", res.StatusCode, created)
	}
	loc := res.Header.Get("Location")
	id := loc[strings.LastIndex(loc, "/")+1:]
	if loc != a1.URL()+"/ingests/"+id {
		t.Fatalf("Location %q", loc)
	}
	res, got := call(t, "GET", a2.URL()+"/ingests/"+id, "", "")
	if res.StatusCode != 200 || got != created {
		t.Fatalf("GET via the other app: %d\n got %s\nwant %s", res.StatusCode, got, created)
	}
	if !strings.Contains(created, `"createdDate":"2026-11-26T10:00:00.000Z"`) {
		t.Errorf("injected clock not used: %s", created)
	}

	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := model.StorageManifest{Space: "digitised", ExternalIdentifier: "b1", Version: 1, CreatedDate: clock(),
		Info: model.BagInfo{ExternalIdentifier: "b1"}}
	if err := st.PutStorageManifest(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	res, body := call(t, "GET", bagsApp.URL()+"/bags/digitised/b1", "", "")
	if res.StatusCode != 200 || res.Header.Get("ETag") != `"digitised/b1/v1"` {
		t.Fatalf("bags: %d %s", res.StatusCode, body)
	}
}

func TestConcurrentCreatesAcrossApps(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage.db")
	apps := []*App{startApp(t, KindIngests, db), startApp(t, KindIngests, db)}
	const each = 15
	var wg sync.WaitGroup
	ids := make(chan string, 2*2*each)
	for i, a := range apps {
		for w := range 2 {
			wg.Go(func() {
				for n := range each {
					res, body := call(t, "POST", a.URL()+"/ingests", "application/json", fmt.Sprintf(ingestBody, fmt.Sprintf("a%dw%dn%d", i, w, n)))
					if res.StatusCode != 201 {
						t.Errorf("POST: %d %s", res.StatusCode, body)
						return
					}
					var in struct{ ID string }
					_ = json.Unmarshal([]byte(body), &in)
					ids <- in.ID
				}
			})
		}
	}
	wg.Wait()
	close(ids)
	n := 0
	for id := range ids {
		n++
		if res, body := call(t, "GET", apps[n%2].URL()+"/ingests/"+id, "", ""); res.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", id, res.StatusCode, body)
		}
	}
	if n != 2*2*each {
		t.Fatalf("%d ingests created, want %d", n, 2*2*each)
	}
}

func TestBusyPortFailsCleanly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage.db")
	first := startApp(t, KindBags, db)
	second, err := New(Config{Kind: KindIngests, Listen: first.Addr(), DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), first.Addr()) {
		t.Fatalf("Start on a busy port: %v (want an error naming %s)", err, first.Addr())
	}
	if second.Addr() != "" {
		t.Errorf("Addr after failed Start = %q", second.Addr())
	}
	if err := second.Stop(t.Context()); err != nil {
		t.Errorf("Stop after failed Start: %v", err)
	}
	// the first app still answers
	if res, _ := call(t, "GET", first.URL()+"/management/healthcheck", "", ""); res.StatusCode != 200 {
		t.Fatalf("first app: %d", res.StatusCode)
	}
}

func TestStartFailsOnUnusableDB(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{Kind: KindBags, Listen: "127.0.0.1:0", DBPath: dir}) // a directory
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err == nil {
		a.Stop(t.Context())
		t.Fatal("Start succeeded on a directory as database")
	}
	if a.Addr() != "" {
		t.Errorf("listening after failed Start: %s", a.Addr())
	}
}

func TestStopReleasesThePort(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage.db")
	a, err := New(Config{Kind: KindBags, Listen: "127.0.0.1:0", DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(t.Context()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	a, _ = New(Config{Kind: KindBags, Listen: "127.0.0.1:0", DBPath: db})
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err == nil {
		t.Fatal("second Start succeeded")
	}
	addr := a.Addr()
	if err := a.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := a.Stop(t.Context()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
}

func TestStopWaitsForRequestsInFlight(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage.db")
	a, err := New(Config{Kind: KindIngests, Listen: "127.0.0.1:0", DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	a.wrapHandler = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				close(entered)
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", a.URL()+"/ingests", strings.NewReader(fmt.Sprintf(ingestBody, "inflight")))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		res.Body.Close()
		done <- result{status: res.StatusCode}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- a.Stop(ctx)
	}()
	// Shutdown has begun once the listener refuses connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", a.Addr(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still open after Stop began")
		}
		runtime.Gosched()
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	if r := <-done; r.err != nil || r.status != 201 {
		t.Fatalf("in-flight request: %d %v", r.status, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestStopIsBoundedByContext(t *testing.T) {
	db := filepath.Join(t.TempDir(), "storage.db")
	a, err := New(Config{Kind: KindIngests, Listen: "127.0.0.1:0", DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	a.wrapHandler = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
		})
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	go func() {
		res, err := http.Get(a.URL() + "/ingests")
		if err == nil {
			res.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Stop(ctx); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a done context = %v, want context.Canceled", err)
	}
	ln, err := net.Listen("tcp", a.Addr())
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
}
