package docker

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/portway/portway/internal/ecs"
)

// fakeEngine serves the few Engine API paths CreateTask and Start use and
// records the containers created.
type fakeEngine struct {
	mu      sync.Mutex
	created []createReq
}

type createReq struct {
	Name string
	container.Config
	HostConfig container.HostConfig
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.Index(path, "/containers/"); i > 0 {
		path = path[i:]
	} else if i := strings.Index(path, "/images/"); i > 0 {
		path = path[i:]
	}
	w.Header().Set("Api-Version", "1.41")
	switch {
	case strings.HasSuffix(r.URL.Path, "/_ping"):
		io.WriteString(w, "OK")
	case strings.HasSuffix(path, "/version"):
		json.NewEncoder(w).Encode(map[string]string{"Arch": "amd64", "ApiVersion": "1.41"})
	case strings.HasPrefix(path, "/images/"):
		io.WriteString(w, `{"Id":"sha256:0"}`) // every image is present
	case path == "/containers/json":
		io.WriteString(w, "[]")
	case path == "/containers/create":
		var req createReq
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		req.Name = r.URL.Query().Get("name")
		f.mu.Lock()
		f.created = append(f.created, req)
		id := req.Name + "-id"
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"Id": id})
	case strings.HasSuffix(path, "/attach"):
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		buf.Flush()
		_, _ = io.Copy(io.Discard, conn) // until the client closes it
		conn.Close()
	case strings.HasSuffix(path, "/wait"):
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	case strings.HasSuffix(path, "/start"):
		w.WriteHeader(http.StatusNoContent)
	case strings.HasSuffix(path, "/json") && r.Method == http.MethodGet:
		io.WriteString(w, `{"Id":"x","State":{"Running":true,"Pid":4242},"Config":{"StopSignal":"SIGQUIT"}}`)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "not faked: "+r.Method+" "+r.URL.Path, http.StatusNotImplemented)
	}
}

// What the Engine asks Docker for: the pause container publishes the
// task's ports on the task's address under their own numbers and carries
// the labels; the app container joins its namespace with exactly the
// definition's settings and environment.
func TestCreateRequests(t *testing.T) {
	fe := &fakeEngine{}
	srv := httptest.NewServer(fe)
	defer srv.Close()
	e, err := New(Config{Host: "tcp://" + srv.Listener.Addr().String(), StateDir: "/state", RunID: "run1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sb, err := e.CreateTask(ctx, ecs.TaskSpec{TaskID: "0123456789abcdef0123", Service: "web", IP: netip.MustParseAddr("127.77.1.7"),
		Images: []string{"hello:1"}, Ports: []ecs.PortMapping{{ContainerPort: 9001}, {ContainerPort: 53, Protocol: "udp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if sb.(*sandbox).PID() != 4242 {
		t.Errorf("pause pid %d", sb.(*sandbox).PID())
	}
	proc, err := sb.Start(ecs.ContainerSpec{TaskID: "0123456789abcdef0123", Name: "app", Env: []string{"A=1", "PORTWAY_TASK_ID=x"},
		Image: &ecs.ImageSpec{Service: "web", Image: "hello:1", EntryPoint: []string{"/hello"}, Cmd: []string{"--v"},
			WorkingDirectory: "/srv", User: "1000", ReadonlyRootFilesystem: true, MemoryMiB: 128, MemoryReservationMiB: 64,
			CPUUnits: 256, Ulimits: []ecs.Ulimit{{Name: "nofile", SoftLimit: 10, HardLimit: 20}}, StopTimeout: 1500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if proc.PID() != 4242 || proc.(*process).stopSignal != "SIGQUIT" {
		t.Errorf("pid %d, stop signal %q", proc.PID(), proc.(*process).stopSignal)
	}

	// End the attach and the wait.
	proc.(*process).att.Close()
	if err := e.Stop(ctx); err != nil {
		t.Error(err)
	}

	fe.mu.Lock()
	defer fe.mu.Unlock()
	if len(fe.created) != 2 {
		t.Fatalf("created %d containers", len(fe.created))
	}
	pause, app := fe.created[0], fe.created[1]
	if pause.Name != "portway-web-0123456789ab-pause" || pause.Image != pauseImageRef("amd64") {
		t.Errorf("pause: name %q image %q", pause.Name, pause.Image)
	}
	wantLabels := map[string]string{LabelStack: "/state", LabelService: "web", LabelTask: "0123456789abcdef0123",
		LabelContainer: "pause", LabelRole: RolePause, LabelRun: "run1"}
	for k, v := range wantLabels {
		if pause.Labels[k] != v {
			t.Errorf("pause label %s = %q, want %q", k, pause.Labels[k], v)
		}
	}
	b := pause.HostConfig.PortBindings
	if len(b) != 2 || len(b["9001/tcp"]) != 1 || b["9001/tcp"][0].HostIP != "127.77.1.7" || b["9001/tcp"][0].HostPort != "9001" ||
		b["53/udp"][0].HostPort != "53" {
		t.Errorf("pause port bindings %+v", b)
	}
	if app.Name != "portway-web-0123456789ab-app" || app.Labels[LabelContainer] != "app" || app.Labels[LabelRole] != RoleApp {
		t.Errorf("app: name %q labels %v", app.Name, app.Labels)
	}
	hc := app.HostConfig
	if string(hc.NetworkMode) != "container:portway-web-0123456789ab-pause-id" || !hc.ReadonlyRootfs ||
		hc.Memory != 128<<20 || hc.MemoryReservation != 64<<20 || hc.CPUShares != 256 ||
		len(hc.Ulimits) != 1 || *hc.Ulimits[0] != (container.Ulimit{Name: "nofile", Soft: 10, Hard: 20}) || len(hc.PortBindings) != 0 {
		t.Errorf("app host config %+v", hc)
	}
	if !slices.Equal(app.Env, []string{"A=1", "PORTWAY_TASK_ID=x"}) || !slices.Equal(app.Entrypoint, []string{"/hello"}) ||
		!slices.Equal(app.Cmd, []string{"--v"}) || app.WorkingDir != "/srv" || app.User != "1000" ||
		app.StopTimeout == nil || *app.StopTimeout != 2 || app.StopSignal != "" {
		t.Errorf("app config %+v", app.Config)
	}
}
