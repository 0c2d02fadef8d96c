package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/portway/portway/internal/pki"
	"github.com/portway/portway/internal/stack"
)

// Addresses of the harness's own network, away from a developer's stack
// (127.77.x) and the e2e tests (127.77.100+).
const (
	portwayNLB     = "127.78.0.10"
	portwaySubnet  = "127.78.1.0/24"
	chainAppIPFmt  = "127.78.2.%d" // harness app N and its nginx sidecar
	chainNLBIP     = "127.78.3.10" // HAProxy
	chainGatewayIP = "127.78.3.1"  // nginx gateway
	appPort        = 9001
	sidecarPort    = 9000
	healthPath     = "/management/healthcheck"
)

// debianPackages maps each tool the harness needs to its Debian package.
func debianPackages() [][2]string {
	return [][2]string{{"nginx", "nginx"}, {"haproxy", "haproxy"}, {"wrk", "wrk"}}
}

// lookTool finds bin on PATH or in the sbin directories (nginx and haproxy
// live in /usr/sbin, not on every user's PATH).
func lookTool(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, bin)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

// tools holds the paths of the off-the-shelf programs.
type tools struct{ nginx, haproxy, wrk string }

// ensureTools installs the missing Debian packages (apt-get update, then
// apt-get install -y of only the missing ones) and returns the tools' paths.
func ensureTools(ctx context.Context, out io.Writer) (tools, error) {
	var missing []string
	for _, p := range debianPackages() {
		if _, err := lookTool(p[0]); err != nil {
			missing = append(missing, p[1])
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(out, "installing %s (apt-get)…\n", strings.Join(missing, " "))
		hint := fmt.Sprintf("install them yourself: apt-get install -y %s", strings.Join(missing, " "))
		if err := runQuiet(ctx, nil, "apt-get", "update"); err != nil {
			return tools{}, fmt.Errorf("apt-get update failed (need root and network; or %s): %w", hint, err)
		}
		args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
		if err := runQuiet(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", args...); err != nil {
			return tools{}, fmt.Errorf("apt-get install %s failed (%s): %w", strings.Join(missing, " "), hint, err)
		}
	}
	var t tools
	var err error
	if t.nginx, err = lookTool("nginx"); err != nil {
		return t, err
	}
	if t.haproxy, err = lookTool("haproxy"); err != nil {
		return t, err
	}
	if t.wrk, err = lookTool("wrk"); err != nil {
		return t, err
	}
	return t, nil
}

// runQuiet runs a command and returns its output in the error on failure.
func runQuiet(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, truncate(strings.TrimSpace(buf.String()), 2000))
	}
	return nil
}

// moduleRoot is the directory of the go.mod the harness runs in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the harness inside the portway module (go run ./bench)")
	}
	return filepath.Dir(gomod), nil
}

// buildPortway builds the portway binary into dir, static (CGO_ENABLED=0)
// as the README builds it for deployment: no libc mapped into each of the
// stack's processes.
func buildPortway(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "portway")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/portway")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/portway: %w\n%s", err, out)
	}
	return bin, nil
}

// benchStack is the built-in stack on the harness's own addresses, with
// free ports for the public listeners.
func benchStack() stack.Config {
	cfg := stack.Default()
	cfg.Gateway.Listen = "127.0.0.1:0"
	cfg.Auth.Listen = "127.0.0.1:0"
	cfg.Control.Listen = "127.0.0.1:0"
	cfg.NLB.Address = portwayNLB
	cfg.Gateway.StageVariables["nlb_host"] = portwayNLB
	cfg.Tasks.Subnet = portwaySubnet
	return cfg
}

// benchTLS is what -tls needs: the local CA both gateways' certificates
// come from, the nginx gateway's certificate, and the client side that
// trusts the CA.
type benchTLS struct {
	caFile  string      // the local CA's certificate (<state>/tls/ca.pem)
	gateway pki.Files   // the nginx gateway's certificate and key
	client  *tls.Config // the system's roots plus the local CA
}

// setupTLS makes portway's local CA in stateDir/tls before `portway up
// --tls` starts (which then opens it rather than making one), and issues
// the nginx gateway's certificate (for chainGatewayIP) from the same CA
// into dir: both gateways present a certificate of one CA, and the
// harness's clients trust that CA alone besides the system's roots.
func setupTLS(stateDir, dir string) (*benchTLS, error) {
	ca, err := pki.LoadOrCreateCA(filepath.Join(stateDir, stack.TLSDir), nil)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue([]string{chainGatewayIP})
	if err != nil {
		return nil, err
	}
	bt := &benchTLS{
		caFile:  ca.CertFile(),
		gateway: pki.Files{CertFile: filepath.Join(dir, "nginx-gateway-cert.pem"), KeyFile: filepath.Join(dir, "nginx-gateway-key.pem")},
	}
	if err := pki.WriteFiles(cert, bt.gateway); err != nil {
		return nil, err
	}
	if bt.client, err = pki.ClientConfig(bt.caFile); err != nil {
		return nil, err
	}
	return bt, nil
}

// clientTLS is the client TLS config of -tls, nil without it.
func (bt *benchTLS) clientTLS() *tls.Config {
	if bt == nil {
		return nil
	}
	return bt.client
}

// newClient is an HTTP client of the harness: no proxy from the
// environment (everything it calls is on loopback), HTTPS trusting
// tlsConf's roots (nil: Go's defaults), a new connection per request
// unless keepAlive.
func newClient(tlsConf *tls.Config, timeout time.Duration, keepAlive bool) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     tlsConf,
			TLSHandshakeTimeout: timeout,
			DisableKeepAlives:   !keepAlive,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// freePort returns a port that was free on ip a moment ago.
func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", ip, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// httpOK reports whether GET url answers 200.
func httpOK(client *http.Client, u string) bool {
	resp, err := client.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// fetchToken gets an access token with the client-credentials grant.
func fetchToken(ctx context.Context, client *http.Client, c stack.Credentials) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: %s: %s", resp.Status, truncate(string(body), 300))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: no access_token in the answer (%v)", err)
	}
	return tok.AccessToken, nil
}

// ingestJSON is a valid POST /ingests body.
const ingestJSON = `{"type": "Ingest",
 "ingestType": {"id": "create", "type": "IngestType"},
 "space": {"id": "bench", "type": "Space"},
 "sourceLocation": {"type": "Location", "provider": {"type": "Provider", "id": "amazon-s3"}, "bucket": "uploads", "path": "bench.tar.gz"},
 "bag": {"type": "Bag", "info": {"type": "BagInfo", "externalIdentifier": "bench-bag"}}}`

// largeIngestBody splits a valid ingest of exactly size bytes into a prefix,
// a run of 'x' and a suffix: the run is the value of an unknown field,
// "padding", which the app ignores (as the real service does).
func largeIngestBody(size int) (prefix string, pad int, suffix string, err error) {
	prefix = `{"padding": "`
	suffix = `", ` + strings.TrimPrefix(ingestJSON, "{")
	pad = size - len(prefix) - len(suffix)
	if pad < 0 {
		return "", 0, "", fmt.Errorf("body size %d is smaller than an ingest (%d bytes)", size, len(prefix)+len(suffix))
	}
	return prefix, pad, suffix, nil
}

// createIngest POSTs an ingest to base+"/ingests" and returns the URL to GET
// it through the same path (base + "/ingests/<id>").
func createIngest(ctx context.Context, client *http.Client, base, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ingests", strings.NewReader(ingestJSON))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("create an ingest at %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create an ingest at %s: %s: %s", base, resp.Status, truncate(string(body), 300))
	}
	var in struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.ID == "" {
		return "", fmt.Errorf("create an ingest at %s: no id in %s", base, truncate(string(body), 300))
	}
	return base + "/ingests/" + in.ID, nil
}

// taskJSON is the part of `portway tasks --json` the harness reads.
type taskJSON struct {
	Tasks []struct {
		TaskID     string `json:"taskId"`
		Service    string `json:"service"`
		LastStatus string `json:"lastStatus"`
		IP         string `json:"ip"`
		Containers []struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		} `json:"containers"`
	} `json:"tasks"`
}

// runningSidecar finds a RUNNING task of service in `portway tasks --json`
// output and returns its IP and the PID of its container named container.
func runningSidecar(out []byte, service, container string) (ip string, pid int, err error) {
	var tl taskJSON
	if err := json.Unmarshal(out, &tl); err != nil {
		return "", 0, fmt.Errorf("portway tasks --json: %w", err)
	}
	for _, t := range tl.Tasks {
		if t.Service != service || t.LastStatus != "RUNNING" {
			continue
		}
		for _, c := range t.Containers {
			if c.Name == container && c.PID > 0 {
				return t.IP, c.PID, nil
			}
		}
	}
	return "", 0, fmt.Errorf("no RUNNING %s task with a %q container in portway tasks --json", service, container)
}

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// clientTimeout is for the harness's own setup requests.
const clientTimeout = 10 * time.Second
