package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/portway/portway/internal/stack"
)

const ingestBody = `{"type": "Ingest",
 "ingestType": {"id": "create", "type": "IngestType"},
 "space": {"id": "digitised", "type": "Space"},
 "sourceLocation": {"type": "Location", "provider": {"type": "Provider", "id": "amazon-s3"},
                    "bucket": "uploads", "path": "b12345.tar.gz"},
 "bag": {"type": "Bag", "info": {"type": "BagInfo", "externalIdentifier": "b12345"}}}`

var corsHeaders = map[string]string{
	"Access-Control-Allow-Origin":      "*",
	"Access-Control-Allow-Methods":     "GET, POST, OPTIONS",
	"Access-Control-Allow-Headers":     "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type",
	"Access-Control-Allow-Credentials": "true",
}

// TestWholePath walks the storage-service stack as a client: credentials
// from the state dir, a token, an ingest created and read back through both
// tasks, CORS headers, 401 without a token; then stop, no process left, and a
// second start that keeps the client and the data.
func TestWholePath(t *testing.T) {
	stateDir := t.TempDir()
	cfgPath := writeConfig(t, testStack(0))
	up := startUp(t, stateDir, "--config", cfgPath)

	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)
	if !strings.HasSuffix(ep.APIURL, "/v1") || ep.TokenURL == "" || ep.JWKSURL == "" || ep.ControlURL == "" {
		t.Fatalf("endpoints.json incomplete: %+v", ep)
	}
	// The summary follows endpoints.json onto stdout.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(up.stdout.String(), ep.APIURL); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("ready summary does not show the API URL:\n%s", up.stdout)
			break
		}
	}

	// oauth-credentials.json holds exactly the three keys the Python client takes.
	var rawCreds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &rawCreds)
	keys := make([]string, 0, len(rawCreds))
	for k := range rawCreds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "client_id,client_secret,token_url" {
		t.Fatalf("oauth-credentials.json keys = %v", keys)
	}
	if fi, err := os.Stat(filepath.Join(stateDir, stack.CredentialsFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("oauth-credentials.json mode: %v %v", fi.Mode(), err)
	}

	cc := clientcredentials.Config{ClientID: rawCreds["client_id"], ClientSecret: rawCreds["client_secret"], TokenURL: rawCreds["token_url"]}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := cc.Client(ctx)
	client.Timeout = 30 * time.Second

	// Create an ingest.
	resp, err := client.Post(ep.APIURL+"/ingests", "application/json", strings.NewReader(ingestBody))
	if err != nil {
		t.Fatal(err)
	}
	created, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /ingests: %d %s", resp.StatusCode, created)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, ep.APIURL+"/ingests/") {
		t.Fatalf("Location %q is not under %s/ingests/", loc, ep.APIURL)
	}
	checkCORS(t, resp.Header)
	checkRemappedServer(t, resp.Header)
	var ingest struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Status struct {
			ID string `json:"id"`
		} `json:"status"`
	}
	if err := json.Unmarshal(created, &ingest); err != nil || ingest.Type != "Ingest" || ingest.ID == "" {
		t.Fatalf("created ingest body %s: %v", created, err)
	}

	// Read it back many times. The gateway keeps its connections to the
	// load balancer alive, and each connection is pinned to one task, so
	// concurrent bursts are what open new connections; keep going until the
	// flow hash has put connections on both ingests tasks.
	deadline := time.Now().Add(60 * time.Second)
	for burst := 0; ; burst++ {
		readConcurrently(t, client, loc, ingest.ID, 16)
		targets := describeTargets(t, stateDir, "ingests")
		if len(targets) != 2 {
			t.Fatalf("ingests targets: %+v", targets)
		}
		serving := 0
		for _, th := range targets {
			if th.TargetHealth.State != "healthy" {
				t.Fatalf("target %s is %s", th.Target.ID, th.TargetHealth.State)
			}
			if th.Connections > 0 {
				serving++
			}
		}
		if serving == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d bursts only one ingests task has served: %+v", burst+1, targets)
		}
	}

	// The custom domain: api.localhost with base path storage/v1 maps to
	// stage v1, and Location points at the domain URL the client used.
	gwHost := strings.TrimPrefix(strings.TrimSuffix(ep.APIURL, "/v1"), "http://")
	_, port, _ := strings.Cut(gwHost, ":")
	req, _ := http.NewRequest(http.MethodPost, "http://"+gwHost+"/storage/v1/ingests", strings.NewReader(ingestBody))
	req.Host = "api.localhost:" + port
	req.Header.Set("Content-Type", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "http://api.localhost:" + port + "/storage/v1/ingests/"; resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), want) {
		t.Errorf("POST via custom domain: %d, Location %q, want prefix %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	// The console at the control address shows the live stack once the
	// browser has opened the login URL of the summary; before, 401.
	resp, err = http.Get(ep.ControlURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("console without login: %d, want 401", resp.StatusCode)
	}
	login := ep.ControlURL + "/?token=" + controlToken(t, stateDir)
	if !strings.Contains(up.stdout.String(), "console  "+login+"\n") {
		t.Errorf("ready summary lacks the console login URL:\n%s", up.stdout)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err = browser.Get(login)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != ep.ControlURL+"/" ||
		!strings.Contains(string(page), "/console/app.js") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("console after login (at %s): %d %v, want the page with its script and CSP:\n%s", resp.Request.URL, resp.StatusCode, resp.Header, page)
	}
	var state struct {
		Endpoints struct {
			APIURL string `json:"apiUrl"`
		} `json:"endpoints"`
		TargetGroups []struct {
			Targets []struct {
				State string `json:"state"`
			} `json:"targets"`
		} `json:"targetGroups"`
	}
	getJSON(t, browser, ep.ControlURL+"/console/api/state", &state)
	healthy := 0
	for _, g := range state.TargetGroups {
		for _, tg := range g.Targets {
			if tg.State == "healthy" {
				healthy++
			}
		}
	}
	if state.Endpoints.APIURL != ep.APIURL || healthy != 4 {
		t.Errorf("console state: %+v, want the API URL and 4 healthy targets", state)
	}

	// Bags: 404 in the storage service's error shape until bags exist.
	resp, err = client.Get(ep.APIURL + "/bags/digitised/b12345")
	if err != nil {
		t.Fatal(err)
	}
	var notFound map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&notFound)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || notFound["type"] != "Error" || notFound["httpStatus"] != float64(404) {
		t.Errorf("GET bags: %d %v", resp.StatusCode, notFound)
	}

	// No token: 401.
	resp, err = http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without token: %d %s", resp.StatusCode, body)
	}

	// `portway token` prints a token the gateway accepts.
	out, errOut, err := runPortway(t, "token", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("portway token: %v %s", err, errOut)
	}
	req, _ = http.NewRequest(http.MethodGet, loc, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET with `portway token`'s token: %d", resp.StatusCode)
	}

	// Stop: exit 0 and every task process gone.
	pids := taskPIDs(t, stateDir)
	if len(pids) != 8 {
		t.Errorf("want 8 container processes (4 tasks x 2), got %d", len(pids))
	}
	up.stop(t)
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("container process %d still running after portway up exited", pid)
		}
	}

	// Second start on the same state dir: same client, same data.
	up2 := startUp(t, stateDir, "--config", cfgPath)
	var creds2 map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds2)
	if creds2["client_id"] != rawCreds["client_id"] || creds2["client_secret"] != rawCreds["client_secret"] {
		t.Errorf("client changed across restart")
	}
	var ep2 stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep2)
	cc.TokenURL = creds2["token_url"]
	resp, err = cc.Client(ctx).Get(ep2.APIURL + "/ingests/" + ingest.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ingest lost across restart: %d", resp.StatusCode)
	}
	up2.stop(t)
}

// readConcurrently GETs url n times at once and checks every answer.
func readConcurrently(t *testing.T, client *http.Client, url, id string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), id) {
				errs <- fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
				return
			}
			for k, want := range corsHeaders {
				if got := resp.Header.Values(k); len(got) != 1 || got[0] != want {
					errs <- fmt.Errorf("header %s = %q, want %q", k, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// checkRemappedServer: the task's nginx-style sidecar answers with
// "Server: nginx", which the gateway hands on as x-amzn-Remapped-Server, as
// in production; the client gets no Server of its own.
func checkRemappedServer(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Values("x-amzn-Remapped-Server"); len(got) != 1 || got[0] != "nginx" {
		t.Errorf("x-amzn-Remapped-Server = %q, want [nginx]", got)
	}
	if got := h.Values("Server"); len(got) != 0 {
		t.Errorf("Server = %q, want none", got)
	}
}

func checkCORS(t *testing.T, h http.Header) {
	t.Helper()
	for k, want := range corsHeaders {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

// TestKilledUpLeavesNoProcess: even when `portway up` is killed with
// SIGKILL, and so cannot stop its tasks, no container process outlives it.
func TestKilledUpLeavesNoProcess(t *testing.T) {
	stateDir := t.TempDir()
	up := startUp(t, stateDir, "--config", writeConfig(t, testStack(2)))
	pids := taskPIDs(t, stateDir)
	if len(pids) == 0 {
		t.Fatal("no container processes")
	}
	if err := up.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-up.done
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("container process %d outlived a killed portway up", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestTourWithCurl follows the README's tour with curl: a token from the
// token endpoint with HTTP Basic client auth, an ingest created, then read.
func TestTourWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	stateDir := t.TempDir()
	startUp(t, stateDir, "--config", writeConfig(t, testStack(3)))
	var creds map[string]string
	readJSONFile(t, filepath.Join(stateDir, stack.CredentialsFile), &creds)
	var ep stack.Endpoints
	readJSONFile(t, filepath.Join(stateDir, stack.EndpointsFile), &ep)

	curl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "30"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	out := curl("-u", creds["client_id"]+":"+creds["client_secret"], "-d", "grant_type=client_credentials", creds["token_url"])
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token response %q: %v", out, err)
	}
	out = curl("-i", "-X", "POST", ep.APIURL+"/ingests", "-H", "Authorization: Bearer "+tok.AccessToken,
		"-H", "Content-Type: application/json", "-d", ingestBody)
	if !strings.HasPrefix(out, "HTTP/1.1 201") {
		t.Fatalf("POST: %s", out)
	}
	var loc string
	for _, line := range strings.Split(out, "\r\n") {
		if v, ok := strings.CutPrefix(line, "Location: "); ok {
			loc = v
		}
	}
	if !strings.HasPrefix(loc, ep.APIURL+"/ingests/") {
		t.Fatalf("Location %q", loc)
	}
	out = curl("-i", "-H", "Authorization: Bearer "+tok.AccessToken, loc)
	if !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, strings.TrimPrefix(loc, ep.APIURL+"/ingests/")) {
		t.Fatalf("GET: %s", out)
	}
	out = curl("-i", ep.APIURL+"/nothing/here")
	if !strings.HasPrefix(out, "HTTP/1.1 403") || !strings.Contains(out, "x-amzn-ErrorType: MissingAuthenticationTokenException") {
		t.Fatalf("unknown resource: %s", out)
	}
}
