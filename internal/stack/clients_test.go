package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/auth"
)

func TestReconcileClients(t *testing.T) {
	dir := t.TempDir()
	cfg := Default()
	rs := []auth.ResourceServer{{Identifier: StorageResourceServer, Scopes: []string{"bags", "ingests"}}}
	store, err := auth.OpenClientStore(dir, auth.WithResourceServers(rs), auth.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	bags := StorageResourceServer + "/bags"
	declared := []ClientConfig{
		{Name: "reader", Scopes: []string{bags}, TokenValidity: 10 * time.Minute},
		{Name: "everything"},
	}
	if err := reconcileClients(store, declared, cfg.AllScopes(), time.Hour, dir, "http://auth/oauth2/token"); err != nil {
		t.Fatal(err)
	}
	var reader Credentials
	if err := readJSON(filepath.Join(dir, ClientsDir, "reader.json"), &reader); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, ClientsDir, "reader.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v", fi.Mode())
	}
	if _, err := store.Authenticate(reader.ClientID, reader.ClientSecret); err != nil {
		t.Fatalf("written credentials do not authenticate: %v", err)
	}
	c, _ := store.Get(reader.ClientID)
	if !slices.Equal(c.AllowedScopes, []string{bags}) || c.TokenValidity != 10*time.Minute {
		t.Errorf("reader = %+v", c)
	}

	// A second start with changed scopes and a moved token URL: same client
	// and secret, new scopes, file points at the new URL.
	declared[0].Scopes = cfg.AllScopes()
	if err := reconcileClients(store, declared, cfg.AllScopes(), time.Hour, dir, "http://auth2/oauth2/token"); err != nil {
		t.Fatal(err)
	}
	if n := len(store.List()); n != 2 {
		t.Fatalf("%d clients after the second start, want 2", n)
	}
	var again Credentials
	if err := readJSON(filepath.Join(dir, ClientsDir, "reader.json"), &again); err != nil {
		t.Fatal(err)
	}
	if again.ClientID != reader.ClientID || again.ClientSecret != reader.ClientSecret || again.TokenURL != "http://auth2/oauth2/token" {
		t.Errorf("credentials after restart = %+v", again)
	}
	c, _ = store.Get(reader.ClientID)
	if len(c.AllowedScopes) != 2 {
		t.Errorf("scopes not updated from the config: %v", c.AllowedScopes)
	}
}

func TestDeclaredClientValidation(t *testing.T) {
	cfg := Default()
	cfg.Auth.Clients = []ClientConfig{{Name: "a/b"}, {Name: "portway-default"}, {Name: "x", Scopes: []string{"nope"}}}
	err := cfg.Validate()
	for _, want := range []string{"auth.clients[0].name", "auth.clients[1].name", "auth.clients[2].scopes[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestReconcileClientsFlows(t *testing.T) {
	dir := t.TempDir()
	rs := []auth.ResourceServer{{Identifier: StorageResourceServer, Scopes: []string{"bags", "ingests"}}}
	store, err := auth.OpenClientStore(dir, auth.WithResourceServers(rs), auth.WithBcryptCost(4))
	if err != nil {
		t.Fatal(err)
	}
	none := []string{}
	declared := []ClientConfig{{Name: "disabled", AllowedOAuthFlows: &none}, {Name: "default-flows"}}
	all := Default().AllScopes()
	if err := reconcileClients(store, declared, all, time.Hour, dir, "http://auth/oauth2/token"); err != nil {
		t.Fatal(err)
	}
	for _, c := range store.List() {
		switch c.Name {
		case "disabled":
			if c.AllowsFlow("client_credentials") {
				t.Errorf("allowedOAuthFlows: [] must disable the client: %+v", c)
			}
		case "default-flows":
			if !c.AllowsFlow("client_credentials") {
				t.Errorf("omitted allowedOAuthFlows must allow client_credentials: %+v", c)
			}
		}
	}
	// Re-enabled by a later config.
	cc := []string{"client_credentials"}
	declared[0].AllowedOAuthFlows = &cc
	if err := reconcileClients(store, declared, all, time.Hour, dir, "http://auth/oauth2/token"); err != nil {
		t.Fatal(err)
	}
	for _, c := range store.List() {
		if c.Name == "disabled" && !c.AllowsFlow("client_credentials") {
			t.Errorf("flows not updated from the config: %+v", c)
		}
	}
}
