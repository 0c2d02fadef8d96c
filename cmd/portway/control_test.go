package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/controlauth"
	"github.com/portway/portway/internal/stack"
)

// TestCLISendsControlToken: the CLI reads <state>/control-token by itself
// and passes a guarded control API, reads and mutations alike.
func TestCLISendsControlToken(t *testing.T) {
	dir := t.TempDir()
	tok, err := controlauth.LoadOrCreateToken(filepath.Join(dir, controlauth.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	var scaled string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/ecs/services":
			io.WriteString(w, `{"services": [{"name": "bags", "desiredCount": 2}]}`)
		case "/ecs/services/bags/scale":
			body, _ := io.ReadAll(r.Body)
			scaled = string(body)
			io.WriteString(w, `{"name": "bags", "desiredCount": 3}`)
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewUnstartedServer(nil)
	g, err := controlauth.New(controlauth.Config{Token: tok, Addr: srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = g.Handler(api)
	srv.Start()
	defer srv.Close()
	ep, _ := json.Marshal(stack.Endpoints{ControlURL: srv.URL})
	if err := os.WriteFile(filepath.Join(dir, stack.EndpointsFile), ep, 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(t, "services", "--state-dir", dir)
	if err != nil || !strings.Contains(out, "bags") {
		t.Fatalf("services: %v\n%s", err, out)
	}
	out, err = runCLI(t, "services", "scale", "bags", "3", "--state-dir", dir)
	if err != nil || !strings.Contains(out, "bags: desired 3") || scaled != `{"desiredCount":3}` {
		t.Fatalf("services scale: %v %q\n%s", err, scaled, out)
	}
	out, err = runCLI(t, "control-url", "--state-dir", dir)
	if want := srv.URL + "/?token=" + tok + "\n"; err != nil || out != want {
		t.Errorf("control-url: %v %q, want %q", err, out, want)
	}

	// A wrong token is refused with the guard's message.
	if err := os.WriteFile(filepath.Join(dir, controlauth.TokenFile), []byte(strings.Repeat("x", 43)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "services", "--state-dir", dir); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
}
