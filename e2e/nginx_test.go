package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestNginxSidecar runs the stack with the system's nginx as every task's
// sidecar (`portway up --sidecar nginx`): the same path, the same CORS
// headers, and no nginx process left after stop.
func TestNginxSidecar(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx is not installed (.ci/run installs it)")
		}
	}
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(50)), "--sidecar", "nginx")

	client, ep := stackClient(t, stateDir)

	resp, err := client.Post(ep.APIURL+"/ingests", "application/json", strings.NewReader(ingestBody))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST through nginx: %d %s", resp.StatusCode, body)
	}
	checkCORS(t, resp.Header)
	checkRemappedServer(t, resp.Header) // server_tokens off, as the built-in sidecar
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, ep.APIURL+"/ingests/") {
		t.Fatalf("Location %q: nginx must pass the forwarded host and prefix", loc)
	}
	id := strings.TrimPrefix(loc, ep.APIURL+"/ingests/")
	readConcurrently(t, client, loc, id, 8)

	// Every task's sidecar really is nginx.
	pids := taskPIDs(t, stateDir)
	nginx := 0
	for _, pid := range pids {
		if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && strings.HasSuffix(exe, "/nginx") {
			nginx++
		}
	}
	if nginx != 4 {
		t.Errorf("%d of the containers run nginx, want 4 (one per task)", nginx)
	}
	up.stop(t)
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("container process %d left after stop", pid)
		}
	}
}
