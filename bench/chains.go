package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/portway/portway/internal/stack"
)

// chain is one way to reach the app under test.
type chain struct {
	Name string
	// Stack is whose processes these are (chainPortway or chainNginx, or
	// chainDirect), for the memory figures.
	Stack   string
	BaseURL string      // requests go to BaseURL + "/ingests…"
	Roots   []int       // process ids whose trees are this chain's CPU and memory
	getURL  string      // an ingest created through this chain
	headers [][2]string // headers every request carries
	// clientTLS is what clients of BaseURL trust when it is https.
	clientTLS *tls.Config
}

// portwayStack is a running `portway up`.
type portwayStack struct {
	up        *proc
	stateDir  string
	endpoints stack.Endpoints
	token     string
	ready     time.Duration // from process start to endpoints.json
	// clientTLS trusts the local CA with -tls (nil without): for the
	// gateway, the token endpoint and the control API.
	clientTLS *tls.Config
}

// startPortway runs `portway up` with the bench stack and state dir
// stateDir (with --tls when bt is set: the local CA in stateDir/tls is
// bt's) and waits for endpoints.json.
func startPortway(ctx context.Context, ps *procSet, bin, dir, stateDir string, bt *benchTLS) (*portwayStack, error) {
	cfg := benchStack()
	data, err := cfg.Marshal()
	if err != nil {
		return nil, fmt.Errorf("stack config: %w", err)
	}
	cfgPath := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		return nil, err
	}
	args := []string{bin, "up", "--config", cfgPath, "--state-dir", stateDir}
	if bt != nil {
		args = append(args, "--tls")
	}
	up, err := ps.start("portway-up", args, nil)
	if err != nil {
		return nil, err
	}
	endpoints := filepath.Join(stateDir, stack.EndpointsFile)
	err = waitFor(ctx, "portway up ready", up, 120*time.Second, 5*time.Millisecond, func() bool {
		_, err := os.Stat(endpoints)
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	s := &portwayStack{up: up, stateDir: stateDir, ready: time.Since(up.started), clientTLS: bt.clientTLS()}
	if s.endpoints, err = stack.ReadEndpoints(stateDir); err != nil {
		return nil, err
	}
	if err := checkEndpointsTLS(s.endpoints, bt); err != nil {
		return nil, err
	}
	creds, err := stack.ReadCredentials(stateDir)
	if err != nil {
		return nil, err
	}
	client := newClient(s.clientTLS, clientTimeout, true)
	defer client.CloseIdleConnections()
	if s.token, err = fetchToken(ctx, client, creds); err != nil {
		return nil, err
	}
	return s, nil
}

// offTheShelf is the nginx → HAProxy → nginx chain and its apps.
type offTheShelf struct {
	apps     []*proc
	sidecars []*proc
	haproxy  *proc
	gateway  *proc
	appAddrs []string
	sockPath string
	baseURL  string // gateway URL with the stage
	nlbAddr  string // HAProxy's frontend "ip:port"
	// clientTLS trusts the gateway's certificate with -tls (nil without).
	clientTLS *tls.Config
}

// startApps starts n ingests apps on their own IPs, sharing one database.
func startApps(ctx context.Context, ps *procSet, bin, dir string, n int) ([]*proc, []string, error) {
	db := filepath.Join(dir, "storage.db")
	var apps []*proc
	var addrs []string
	client := &http.Client{Timeout: time.Second}
	for i := 1; i <= n; i++ {
		addr := hostPort(fmt.Sprintf(chainAppIPFmt, i), appPort)
		p, err := ps.start(fmt.Sprintf("app%d", i), []string{bin, "app", "--kind", "ingests", "--listen", addr, "--db", db}, nil)
		if err != nil {
			return nil, nil, err
		}
		if err := waitFor(ctx, "app on "+addr, p, 30*time.Second, 10*time.Millisecond, func() bool {
			return httpOK(client, "http://"+addr+healthPath)
		}); err != nil {
			return nil, nil, err
		}
		apps = append(apps, p)
		addrs = append(addrs, addr)
	}
	return apps, addrs, nil
}

// startNginx writes conf to <dir>/<name>.conf, checks it with nginx -t and
// starts nginx in the foreground.
func startNginx(ctx context.Context, ps *procSet, nginx, dir, name, conf string) (*proc, error) {
	path := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	for _, sub := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, name+"-"+sub), 0o700); err != nil {
			return nil, err
		}
	}
	// -e: log startup errors to stderr, not /var/log/nginx (nginx >= 1.19.5).
	args := []string{"-p", dir, "-e", "stderr", "-c", path}
	if out, err := exec.CommandContext(ctx, nginx, append(args, "-t")...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nginx -t %s: %w\n%s", path, err, out)
	}
	return ps.start(name, append([]string{nginx}, args...), nil)
}

// startOffTheShelf starts two apps, an nginx sidecar in front of each,
// HAProxy over the sidecars and an nginx gateway over HAProxy; the gateway
// serves HTTPS with bt's certificate when bt is set.
func startOffTheShelf(ctx context.Context, ps *procSet, t tools, bin, dir string, bt *benchTLS) (*offTheShelf, error) {
	c := &offTheShelf{clientTLS: bt.clientTLS()}
	var err error
	if c.apps, c.appAddrs, err = startApps(ctx, ps, bin, dir, 2); err != nil {
		return nil, err
	}
	user := nginxUser(os.Geteuid())
	var targets []string
	for i, app := range c.appAddrs {
		host, _, _ := net.SplitHostPort(app)
		listen := hostPort(host, sidecarPort)
		name := fmt.Sprintf("nginx-sidecar%d", i+1)
		conf, err := nginxSidecarConfig{
			nginxCommon: nginxCommon{Dir: dir, Name: name, User: user},
			Listen:      listen, App: app,
		}.Render()
		if err != nil {
			return nil, err
		}
		p, err := startNginx(ctx, ps, t.nginx, dir, name, conf)
		if err != nil {
			return nil, err
		}
		c.sidecars = append(c.sidecars, p)
		targets = append(targets, listen)
	}
	nlbPort, err := freePort(chainNLBIP)
	if err != nil {
		return nil, err
	}
	c.sockPath = filepath.Join(dir, "haproxy.sock")
	hcfg := haproxyConfig{
		Listen: hostPort(chainNLBIP, nlbPort), Targets: targets, CheckPath: healthPath,
		IntervalMS: 1000, TimeoutMS: 900, Rise: 2, Fall: 2, StatsSocket: c.sockPath,
	}
	hconf, err := hcfg.Render()
	if err != nil {
		return nil, err
	}
	hpath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(hpath, []byte(hconf), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, t.haproxy, "-c", "-f", hpath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c -f %s: %w\n%s", hpath, err, out)
	}
	c.nlbAddr = hcfg.Listen
	if c.haproxy, err = ps.start("haproxy", []string{t.haproxy, "-db", "-f", hpath}, nil); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "HAProxy targets UP", c.haproxy, 30*time.Second, 50*time.Millisecond, func() bool {
		st, err := haproxyServerStatus(c.sockPath)
		if err != nil || len(st) != len(targets) {
			return false
		}
		for _, s := range st {
			if !strings.HasPrefix(s, "UP") {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, err
	}
	gwPort, err := freePort(chainGatewayIP)
	if err != nil {
		return nil, err
	}
	gcfg := nginxGatewayConfig{
		nginxCommon: nginxCommon{Dir: dir, Name: "nginx-gateway", User: user},
		Listen:      hostPort(chainGatewayIP, gwPort), Stage: "v1", Upstream: hcfg.Listen,
	}
	scheme := "http"
	if bt != nil {
		gcfg.CertFile, gcfg.KeyFile = bt.gateway.CertFile, bt.gateway.KeyFile
		scheme = "https"
	}
	gconf, err := gcfg.Render()
	if err != nil {
		return nil, err
	}
	if c.gateway, err = startNginx(ctx, ps, t.nginx, dir, "nginx-gateway", gconf); err != nil {
		return nil, err
	}
	c.baseURL = scheme + "://" + hostPort(chainGatewayIP, gwPort) + "/v1"
	client := newClient(c.clientTLS, time.Second, true)
	defer client.CloseIdleConnections()
	if err := waitFor(ctx, "nginx gateway", c.gateway, 30*time.Second, 20*time.Millisecond, func() bool {
		resp, err := client.Get(c.baseURL + "/ingests/00000000-0000-0000-0000-000000000000")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound // the app's answer: the whole chain works
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// checkEndpointsTLS checks that portway serves what the harness asked
// for: https URLs with the harness's CA under -tls, plain http without.
func checkEndpointsTLS(ep stack.Endpoints, bt *benchTLS) error {
	want := "http://"
	if bt != nil {
		want = "https://"
		if ep.CAFile != bt.caFile {
			return fmt.Errorf("portway up --tls: endpoints.json names CA %q, not the harness's %s", ep.CAFile, bt.caFile)
		}
	}
	for _, u := range []string{ep.APIURL, ep.TokenURL, ep.ControlURL} {
		if !strings.HasPrefix(u, want) {
			return fmt.Errorf("portway up: endpoint %s is not %s (tls %v)", u, want, bt != nil)
		}
	}
	return nil
}

// checkSchemes checks that the gateway chains are https exactly when
// useTLS (so wrk gets https URLs under -tls) and the direct chain is plain.
func checkSchemes(chains []chain, useTLS bool) error {
	for _, c := range chains {
		want := "http://"
		if useTLS && c.Name != chainDirect {
			want = "https://"
		}
		for _, u := range []string{c.BaseURL, c.getURL} {
			if !strings.HasPrefix(u, want) {
				return fmt.Errorf("chain %s: URL %s is not %s (tls %v)", c.Name, u, want, useTLS)
			}
		}
	}
	return nil
}

// roots are the chain's processes (nginx masters have their workers below).
func (c *offTheShelf) roots() []int {
	return pids(append([]*proc{c.gateway}, c.lbRoots()...)...)
}

// lbRoots are the processes behind the gateway: HAProxy, sidecars, apps.
func (c *offTheShelf) lbRoots() []*proc {
	ps := append([]*proc{c.haproxy}, c.sidecars...)
	return append(ps, c.apps...)
}

func pids(ps ...*proc) []int {
	var r []int
	for _, p := range ps {
		r = append(r, p.PID())
	}
	return r
}

// portwayNLBAddr is the bench stack's NLB listener for target group.
func portwayNLBAddr(group string) (string, error) {
	cfg := benchStack()
	for _, l := range cfg.NLB.Listeners {
		if l.TargetGroup == group {
			return hostPort(cfg.NLB.Address, l.Port), nil
		}
	}
	return "", fmt.Errorf("the bench stack has no NLB listener for target group %q", group)
}
