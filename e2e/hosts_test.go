package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/stack"
)

// TestHostsChecked: through the whole built-in stack, the gateway answers
// only the hosts it serves, and a created ingest's Location names the host
// the client called — never the load balancer's or a task's private
// address, whatever Host or request target the client sends.
func TestHostsChecked(t *testing.T) {
	stateDir := t.TempDir()
	cfg := testStack(4)
	startUp(t, stateDir, "--config", writeConfig(t, cfg))
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	token := mustToken(t, creds["token_url"], creds["client_id"], creds["client_secret"])
	gw := strings.TrimPrefix(strings.TrimSuffix(ep.APIURL, "/v1"), "http://")
	_, port, _ := strings.Cut(gw, ":")
	private := []string{cfg.NLB.Address, strings.TrimSuffix(cfg.Tasks.Subnet, "0/24")} // 127.77.108.10, 127.77.109.

	post := func(target, host string) string {
		h := ""
		if host != "" {
			h = "Host: " + host + "\r\n"
		}
		version := "HTTP/1.1"
		if host == "" {
			version = "HTTP/1.0"
		}
		return fmt.Sprintf("POST %s %s\r\n%sAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			target, version, h, token, len(ingestBody), ingestBody)
	}
	for _, tt := range []struct {
		name, req string
		status    int
		location  string // prefix, on 201
	}{
		{"invoke URL", post("/v1/ingests", gw), 201, ep.APIURL + "/ingests/"},
		{"custom domain", post("/storage/v1/ingests", "api.localhost:"+port), 201, "http://api.localhost:" + port + "/storage/v1/ingests/"},
		{"absolute form", post("http://"+gw+"/v1/ingests", "evil.example"), 201, ep.APIURL + "/ingests/"},
		{"HTTP/1.0 without Host", post("/v1/ingests", ""), 201, ep.APIURL + "/ingests/"},
		{"unknown Host", post("/v1/ingests", "evil.example"), 403, ""},
		{"unknown authority", post("http://evil.example/v1/ingests", gw), 403, ""},
		{"absolute form with userinfo", post("http://evil.example:80@x/v1/ingests", gw), 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			head, body := rawExchange(t, gw, tt.req)
			for _, p := range private {
				if strings.Contains(head+body, p) {
					t.Fatalf("the answer names the private address %s:\n%s%s", p, head, body)
				}
			}
			status, _ := strconv.Atoi(strings.Fields(head)[1])
			if status != tt.status {
				t.Fatalf("status %d, want %d:\n%s%s", status, tt.status, head, body)
			}
			loc := http.Header{}
			for line := range strings.SplitSeq(head, "\r\n") {
				if k, v, ok := strings.Cut(line, ": "); ok && http.CanonicalHeaderKey(k) == "Location" {
					loc.Set(k, v)
				}
			}
			if tt.status == http.StatusCreated && !strings.HasPrefix(loc.Get("Location"), tt.location) {
				t.Fatalf("Location %q, want prefix %q", loc.Get("Location"), tt.location)
			}
			if tt.status == http.StatusForbidden && body != `{"message":"Forbidden"}` {
				t.Fatalf("body %s", body)
			}
		})
	}
}

// rawExchange sends req as-is on a new connection and returns the response
// head and body as received (the body read to the connection's end or its
// Content-Length).
func rawExchange(t *testing.T, addr, req string) (head, body string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var h strings.Builder
	n := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (so far %q)", err, h.String())
		}
		h.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	var b []byte
	if n >= 0 {
		b = make([]byte, n)
		_, err = io.ReadFull(br, b)
	} else {
		b, err = io.ReadAll(br)
	}
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return h.String(), string(b)
}
