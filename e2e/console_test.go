package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/stack"
)

// chromium finds Debian's chromium, skipping the test when it is missing
// unless PORTWAY_TEST_REQUIRE_CHROMIUM is set (CI sets it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PORTWAY_TEST_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium not found and PORTWAY_TEST_REQUIRE_CHROMIUM is set")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// newBrowser starts headless Chromium that talks to loopback only, with a
// profile of its own, stopped when the test ends.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1440, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// waitJS polls expr in the page until it returns true, failing the test
// with what last returned after timeout.
func waitJS(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		page, _ := chromedp.Run(pctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : ""`))
		if shot, err := chromedp.Run(pctx, chromedp.FullScreenshot(100)); err == nil {
			path := filepath.Join(artifactDir(t), "console-failure.png")
			if os.WriteFile(path, shot, 0o644) == nil {
				t.Logf("screenshot of the failure: %s", path)
			}
		}
		t.Fatalf("console: %s: %v\npage text:\n%s", what, err, page)
	}
}

// artifactDir is where screenshots go: $PORTWAY_TEST_ARTIFACTS, else a
// temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("PORTWAY_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// saveShot saves the browser's viewport to the artifact directory.
func saveShot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// forgedToken is a JWT that claims client_id but is signed by no key the
// authorizer knows: refused with "unknown key id".
func forgedToken(clientID string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"no-such-key","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"client_id":%q,"token_use":"access","scope":"x"}`, clientID))) + "." + enc([]byte("not a signature"))
}

// TestConsoleBrowser drives the console in headless Chromium: it logs in
// with the login URL, watches live route, client and target figures
// appear as requests are sent, opens a trace and a task's log tail, breaks
// a target and waits for the page to say why it fails.
func TestConsoleBrowser(t *testing.T) {
	chrome := chromium(t)
	stateDir := t.TempDir()
	cfg := testStack(76)
	// The target broken below stays listed as unhealthy: its task is not
	// replaced within the grace period.
	for i := range cfg.Services {
		if cfg.Services[i].Name == "bags" {
			cfg.Services[i].HealthCheckGracePeriod = 30 * time.Minute
		}
	}
	up := startUp(t, stateDir, "--config", writeConfig(t, cfg))
	_ = up
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	creds, err := stack.ReadCredentials(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	ctl := controlToken(t, stateDir)
	art := artifactDir(t)

	// The page's JSON is behind the control API's guard like the rest.
	if resp := getJSON(t, &http.Client{Timeout: 30 * time.Second}, ep.ControlURL+"/console/api/state", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("console state without login: %d, want 401", resp.StatusCode)
	}

	ctx := newBrowser(t, chrome)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("log in", chromedp.Navigate(ep.ControlURL+"/?token="+ctl), chromedp.WaitVisible(chromedp.CSS("#routes table")))
	lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
	defer lcancel()
	loc, err := chromedp.Run(lctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if loc != ep.ControlURL+"/" {
		t.Errorf("after login the browser is at %q, want %s/ (the token out of the address bar)", loc, ep.ControlURL)
	}

	// Traffic: authorized requests, refusals with and without a readable
	// client id.
	cc := clientcredentials.Config{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret, TokenURL: creds.TokenURL}
	octx, ocancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer ocancel()
	client := cc.Client(octx)
	client.Timeout = 30 * time.Second
	send := func(c *http.Client, url string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	plain := &http.Client{Timeout: 30 * time.Second}
	for range 20 {
		if code := send(client, ep.APIURL+"/bags/digitised/b1"); code != http.StatusNotFound {
			t.Fatalf("authorized GET: %d, want the storage service's 404", code)
		}
	}
	for range 3 {
		if code := send(plain, ep.APIURL+"/bags/digitised/b1", "Authorization", "Bearer "+forgedToken("rogue-client")); code != http.StatusUnauthorized {
			t.Fatalf("forged token: %d, want 401", code)
		}
		if code := send(plain, ep.APIURL+"/bags/digitised/b1"); code != http.StatusUnauthorized {
			t.Fatalf("no token: %d, want 401", code)
		}
	}

	// Live data, without reloading the page.
	waitJS(t, ctx, "a route row with a p99 latency", `[...document.querySelectorAll("#routes tr.route")].some(r =>
		r.dataset.route.includes("/bags/") && /\d/.test(r.querySelector(".p99").textContent))`, 60*time.Second)
	waitJS(t, ctx, "the refused client with its reason", `[...document.querySelectorAll("#clients tr.client")].some(r =>
		r.dataset.client === "rogue-client" && r.dataset.result === "unauthorized" && r.querySelector(".reason").textContent.includes("unknown key id"))`, 60*time.Second)
	waitJS(t, ctx, "the allowed client", `[...document.querySelectorAll("#clients tr.client")].some(r =>
		r.dataset.client === "`+creds.ClientID+`" && r.dataset.result === "allow")`, 60*time.Second)
	waitJS(t, ctx, "four healthy targets", `document.querySelectorAll("#targets tr.target .s-healthy").length === 4`, 60*time.Second)
	waitJS(t, ctx, "a target with a request rate", `[...document.querySelectorAll("#targets tr.target")].some(r => /\d/.test(r.querySelector(".p50").textContent))`, 60*time.Second)

	// Recent requests, and one's trace: every hop on a timeline.
	waitJS(t, ctx, "recent requests", `document.querySelectorAll("#recent tr.req").length >= 20`, 60*time.Second)
	run("open a trace", chromedp.Click(chromedp.CSS("#recent tr.req.st-404 button.link")))
	waitJS(t, ctx, "the trace's hops", `!document.getElementById("drawer").hidden &&
		["gateway", "nlb", "sidecar", "app"].every(k => document.querySelector('#drawer tr.hop[data-kind="' + k + '"]'))`, 30*time.Second)
	saveShot(t, ctx, art, "console-trace.png")
	run("close the trace", chromedp.Click(chromedp.CSS("#drawer-close")))

	// A task's log tail, one click away.
	run("open a log tail", chromedp.Click(chromedp.CSS("#tasks tr.task button.link")))
	waitJS(t, ctx, "the log tail", `!document.getElementById("drawer").hidden && document.querySelector("#drawer pre.log") &&
		document.querySelector("#drawer pre.log").textContent.length > 0 && !document.querySelector("#drawer pre.log").textContent.startsWith("loading")`, 30*time.Second)
	saveShot(t, ctx, art, "console-logs.png")
	run("close the drawer", chromedp.Click(chromedp.CSS("#drawer-close")))

	// Break a target: freeze one bags task's app so its health checks
	// time out.
	var list struct {
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
	bearer := &http.Client{Timeout: 30 * time.Second, Transport: bearerTransport{ctl}}
	getJSON(t, bearer, ep.ControlURL+"/ecs/tasks", &list)
	tasks := list.Tasks
	victimIP, pid := "", 0
	for _, tk := range tasks {
		if tk.Service != "bags" || tk.LastStatus != "RUNNING" {
			continue
		}
		for _, c := range tk.Containers {
			if c.Name == "app" && c.PID > 0 {
				victimIP, pid = tk.IP, c.PID
			}
		}
		if pid != 0 {
			break
		}
	}
	if pid == 0 {
		t.Fatalf("no running bags task with an app: %+v", tasks)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	waitJS(t, ctx, "the frozen target's failing reason", fmt.Sprintf(`(() => {
		const row = document.querySelector('#targets tr.target[data-target="%s:9000"]');
		return !!row && !!row.querySelector(".s-unhealthy") && /Target\.FailedHealthChecks (Request timed out|Health checks failed)/.test(row.querySelector(".reason").textContent);
	})()`, victimIP), 90*time.Second)
	// The service's block says the same, next to its deployments.
	waitJS(t, ctx, "the failing target under its service", fmt.Sprintf(`(() => {
		const w = document.querySelector('#deployments [data-service="bags"] .target-why[data-target="%s:9000"]');
		return !!w && w.textContent.includes("unhealthy");
	})()`, victimIP), 30*time.Second)

	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	defer scancel()
	shot, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(art, "console.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshot: %s", path)
	if docs := os.Getenv("PORTWAY_CONSOLE_DOCS_PNG"); docs != "" {
		if err := os.WriteFile(docs, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bearerTransport adds the control API's bearer token.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}
