package taskmeta

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/awsid"
)

type fakeSource map[string]string // token → container name

func (f fakeSource) Metadata(token string) (Task, string, bool) {
	name, ok := f[token]
	if !ok {
		return Task{}, "", false
	}
	return Task{
		Cluster: ClusterARN(awsid.DefaultRegion), TaskARN: TaskARN(awsid.DefaultRegion, "t1"), Family: "svc", Revision: "3",
		DesiredStatus: "RUNNING", KnownStatus: "RUNNING", AvailabilityZone: AvailabilityZone(awsid.DefaultRegion), LaunchType: LaunchType,
		Containers: []Container{
			{Name: "app", DockerID: "t1-1", Type: "NORMAL", Networks: []Network{{NetworkMode: "awsvpc", IPv4Addresses: []string{"127.77.1.1"}}}},
			{Name: "nginx", DockerID: "t1-2", Type: "NORMAL"},
		},
	}, name, true
}

const (
	tokApp   = "0123456789abcdef0123456789abcdef"
	tokNginx = "fedcba9876543210fedcba9876543210"
)

func TestHandler(t *testing.T) {
	h := Handler(fakeSource{tokApp: "app", tokNginx: "nginx"})
	tests := []struct {
		method, path string
		status       int
		want         string // substring of the body
	}{
		{"GET", "/v4/" + tokApp, 200, `"DockerId": "t1-1"`},
		{"GET", "/v4/" + tokNginx, 200, `"Name": "nginx"`},
		{"GET", "/v3/" + tokApp, 200, `"IPv4Addresses": [`},
		{"HEAD", "/v4/" + tokApp, 200, ""},
		{"GET", "/v4/" + tokApp + "/task", 200, `"TaskARN": "arn:aws:ecs:eu-west-1:000000000000:task/portway/t1"`},
		{"GET", "/v4/" + tokApp + "/task", 200, `"Revision": "3"`},
		{"GET", "/v4/" + tokApp + "/stats", 501, "statistics"},
		{"GET", "/v4/" + tokApp + "/task/stats", 501, "statistics"},
		{"GET", "/v4/" + tokApp + "/other", 404, "not found"},
		{"GET", "/v4/" + strings.Repeat("0", 32), 404, "unknown container"},
		{"GET", "/v4/short", 404, "not found"},
		{"GET", "/v2/" + tokApp, 404, "not found"},
		{"GET", "/", 404, "not found"},
		{"POST", "/v4/" + tokApp, 405, "method not allowed"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
		}
	}
}

// TestDocumentFieldNames: the documents use ECS's field names.
func TestDocumentFieldNames(t *testing.T) {
	task, _, _ := fakeSource{tokApp: "app"}.Metadata(tokApp)
	task.Containers[0].Ports = []Port{{ContainerPort: 9000, Protocol: "tcp", HostPort: 9000, HostIP: "127.77.1.1"}}
	task.Containers[0].Networks[0].IPv4SubnetCIDRBlock = "127.77.1.0/24"
	task.Containers[0].Networks[0].PrivateDNSName = "ip-127-77-1-1.local.compute.internal"
	b, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"Cluster"`, `"TaskARN"`, `"Family"`, `"Revision"`, `"DesiredStatus"`, `"KnownStatus"`,
		`"AvailabilityZone"`, `"LaunchType"`, `"Containers"`, `"DockerId"`, `"DockerName"`, `"ImageID"`, `"Limits"`,
		`"ContainerARN"`, `"Networks"`, `"NetworkMode"`, `"IPv4Addresses"`, `"AttachmentIndex"`, `"IPv4SubnetCIDRBlock"`,
		`"PrivateDNSName"`, `"Ports"`, `"ContainerPort"`, `"HostIp"`, `"Type"`} {
		if !strings.Contains(string(b), name+":") {
			t.Errorf("document lacks %s: %s", name, b)
		}
	}
}

func TestARNs(t *testing.T) {
	r := awsid.DefaultRegion
	for got, want := range map[string]string{
		ClusterARN(r):                   "arn:aws:ecs:eu-west-1:000000000000:cluster/portway",
		TaskARN(r, "abc"):               "arn:aws:ecs:eu-west-1:000000000000:task/portway/abc",
		ContainerARN(r, "abc", "abc-1"): "arn:aws:ecs:eu-west-1:000000000000:container/portway/abc/abc-1",
		TaskDefinitionARN(r, "bags", 4): "arn:aws:ecs:eu-west-1:000000000000:task-definition/bags:4",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
	if a, b := NewToken(), NewToken(); len(a) != 32 || a == b {
		t.Errorf("NewToken() = %q, %q", a, b)
	}
}

func TestValidate(t *testing.T) {
	for listen, ok := range map[string]bool{"": true, "127.0.0.1:0": true, "[::1]:0": true, "127.77.1.1:51678": true,
		"0.0.0.0:0": false, ":0": false, "localhost:0": false, "127.0.0.1": false} {
		err := Config{Listen: listen, Source: fakeSource{}}.Validate()
		if (err == nil) != ok {
			t.Errorf("Validate(listen %q) = %v, want ok=%v", listen, err, ok)
		}
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("Validate without a source: nil")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServer: the Server's own listener and an extra one serve the same
// documents; Stop closes both.
func TestServer(t *testing.T) {
	s, err := New(Config{Source: fakeSource{tokApp: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	extra, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(extra)
	for _, uri := range []string{s.URI(tokApp), URI(extra.Addr().String(), "v4", tokApp)} {
		if code, body := get(t, uri+"/task"); code != 200 || !strings.Contains(body, `"Family": "svc"`) {
			t.Errorf("GET %s/task = %d %s", uri, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{s.Addr(), extra.Addr().String()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Stop", addr)
		}
	}
	late, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(late) // after Stop: closed at once
	if c, err := net.DialTimeout("tcp", late.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("a listener given after Stop accepts")
	}
}
