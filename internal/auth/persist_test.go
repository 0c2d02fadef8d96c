package auth

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestKeysAndClientsPersistAcrossRestart(t *testing.T) {
	clk := newFakeClock()
	dir := t.TempDir() // no seeded keys: the first New generates them
	cfg := Config{Listen: "127.0.0.1:0", StateDir: dir, ResourceServers: testResourceServers, BcryptCost: bcrypt.MinCost, Now: clk.Now}

	s1 := startServer(t, cfg)
	kid := s1.KeyID()
	id, secret := mustCreate(t, s1.Clients(), "persisted", scopeIngests)
	var jwks1 jwksDoc
	getJSON(t, s1.JWKSURL(), &jwks1)
	_, body := post(t, s1, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
	token1 := tokenFrom(t, body).AccessToken
	if err := s1.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	s2 := startServer(t, cfg)
	if s2.KeyID() != kid {
		t.Errorf("kid changed across restart: %s → %s", kid, s2.KeyID())
	}
	var jwks2 jwksDoc
	getJSON(t, s2.JWKSURL(), &jwks2)
	if jwks2.Keys[0]["n"] != jwks1.Keys[0]["n"] || jwks2.Keys[0]["kid"] != kid {
		t.Errorf("JWKS changed across restart")
	}
	c, ok := s2.Clients().Get(id)
	if !ok || c.Name != "persisted" || len(c.AllowedScopes) != 1 || c.AllowedScopes[0] != scopeIngests || c.TokenValidity != time.Hour {
		t.Fatalf("client after restart = %+v, %v", c, ok)
	}
	resp, body := post(t, s2, tokenReq{form: ccForm(), basic: true, basicUser: id, basicPass: secret})
	if resp.StatusCode != 200 {
		t.Fatalf("token after restart: %s %s", resp.Status, body)
	}
	// The first server's token still verifies against the second's JWKS
	// (the issuer differs: each run binds a new port).
	if _, err := verifyJWT(token1, rsaKeys(t, jwks2), s1.Issuer(), clk.Now()); err != nil {
		t.Errorf("token from before the restart: %v", err)
	}
}

func TestFileModesAndNoPlaintextSecret(t *testing.T) {
	dir := t.TempDir()
	seedKeys(t, dir) // generated keys' mode: TestNoKeysGeneratesTwo
	s, err := New(Config{StateDir: dir, ResourceServers: testResourceServers, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	_, secret := mustCreate(t, s.Clients(), "modes")
	rotated, err := s.Clients().RotateSecret(s.Clients().List()[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir, "auth"):                 0o700 | os.ModeDir,
		filepath.Join(dir, "auth", "keys.json"):    0o600,
		filepath.Join(dir, "auth", "clients.json"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", path, fi.Mode(), want)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "auth", "clients.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) || strings.Contains(string(data), rotated) {
		t.Errorf("clients.json contains a plaintext secret")
	}
	var cf clientsFile
	if err := json.Unmarshal(data, &cf); err != nil {
		t.Fatal(err)
	}
	if len(cf.Clients) != 1 || bcrypt.CompareHashAndPassword([]byte(cf.Clients[0].SecretHash), []byte(rotated)) != nil {
		t.Errorf("stored hash does not match the rotated secret")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Join(dir, "auth"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestLooseModesAreTightened(t *testing.T) {
	dir := t.TempDir()
	seedKeys(t, dir)
	cs, err := OpenClientStore(dir, WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, cs, "x", scopeBags)
	for _, name := range []string{"keys.json", "clients.json"} {
		if err := os.Chmod(filepath.Join(dir, "auth", name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "auth"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{StateDir: dir, BcryptCost: bcrypt.MinCost}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keys.json", "clients.json"} {
		fi, _ := os.Stat(filepath.Join(dir, "auth", name))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v", name, fi.Mode())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "auth")); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v", fi.Mode())
	}
}

func TestCorruptKeysFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	authDir, _ := ensureAuthDir(dir)
	for name, content := range map[string]string{
		"not json": "{",
		"no keys":  `{"version":1,"keys":[]}`,
		"bad pem":  `{"version":1,"keys":[{"kid":"x","private_key":"nope"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(authDir, keysFileName), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Config{StateDir: dir}); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	// A kid that does not match the key is refused.
	seedKeys(t, dir)
	path := filepath.Join(authDir, keysFileName)
	data, _ := os.ReadFile(path)
	var kf keysFile
	_ = json.Unmarshal(data, &kf)
	kf.Keys[0].KID = "wrong"
	data, _ = json.Marshal(kf)
	_ = os.WriteFile(path, data, 0o600)
	if _, err := New(Config{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "thumbprint") {
		t.Errorf("mismatched kid: %v", err)
	}
}

// TestOtherProcessChangesTakeEffect uses a second store on the same state
// dir as another process would (own file descriptors and locks).
func TestOtherProcessChangesTakeEffect(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t, clk)
	cfg.AuthFailureBurst = -1
	s := startServer(t, cfg)
	cli, err := OpenClientStore(cfg.StateDir, WithResourceServers(testResourceServers), WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	status := func(id, secret string) int {
		resp, _ := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
		return resp.StatusCode
	}

	id, secret := mustCreate(t, cli, "from-cli")
	if _, ok := s.Clients().Get(id); !ok {
		t.Fatal("server store does not see a client created by another store")
	}
	if got := status(id, secret); got != 200 {
		t.Fatalf("new client: %d", got)
	}
	// Rotation elsewhere invalidates the cached verification at once.
	newSecret, err := cli.RotateSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	if got := status(id, secret); got != 400 {
		t.Errorf("old secret after rotation: %d", got)
	}
	if got := status(id, newSecret); got != 200 {
		t.Errorf("new secret after rotation: %d", got)
	}
	// Updates elsewhere are seen.
	if _, err := cli.Update(id, ClientUpdate{Scopes: []string{scopeBags}}); err != nil {
		t.Fatal(err)
	}
	_, body := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", newSecret)})
	if sc := claimsOf(t, tokenFrom(t, body).AccessToken)["scope"]; sc != scopeBags {
		t.Errorf("scope after update = %v", sc)
	}
	// Deletion elsewhere takes effect at once, even for a cached secret.
	if err := cli.Delete(id); err != nil {
		t.Fatal(err)
	}
	if got := status(id, newSecret); got != 400 {
		t.Errorf("deleted client: %d", got)
	}
	// Many quick writes in a row are all seen (same size files, same second).
	for i := 0; i < 20; i++ {
		id, _ := mustCreate(t, cli, "burst")
		if _, ok := s.Clients().Get(id); !ok {
			t.Fatalf("write %d not seen", i)
		}
		if err := cli.Delete(id); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Clients().Get(id); ok {
			t.Fatalf("delete %d not seen", i)
		}
	}
	// Removing the file removes every client.
	if err := os.Remove(cli.Path()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Clients().List()); n != 0 {
		t.Errorf("clients after file removal = %d", n)
	}
}

func TestCorruptClientsFileKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	cs, err := OpenClientStore(dir, WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	id, secret := mustCreate(t, cs, "x", scopeBags)
	if err := os.WriteFile(cs.Path(), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := cs.Get(id); !ok {
		t.Error("lost clients on a corrupt file")
	}
	if _, err := cs.Authenticate(id, secret); err != nil {
		t.Error(err)
	}
	if _, _, err := cs.Create("y", []string{scopeBags}, 0); err == nil {
		t.Error("Create overwrote a corrupt file")
	}
	if _, err := OpenClientStore(dir); err == nil {
		t.Error("OpenClientStore accepted a corrupt file")
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	dir := t.TempDir()
	stores := make([]*ClientStore, 3)
	for i := range stores {
		cs, err := OpenClientStore(dir, WithBcryptCost(bcrypt.MinCost))
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = cs
	}
	const perWorker = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(stores)*perWorker)
	for _, cs := range stores {
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWorker; i++ {
					id, secret, err := cs.Create("c", []string{scopeBags}, 0)
					if err != nil {
						errs <- err
						return
					}
					if _, err := cs.Authenticate(id, secret); err != nil {
						errs <- err
					}
					cs.List()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := len(stores) * 2 * perWorker
	for i, cs := range stores {
		if n := len(cs.List()); n != want {
			t.Errorf("store %d sees %d clients, want %d", i, n, want)
		}
	}
}

func TestClientStoreCRUD(t *testing.T) {
	clk := newFakeClock()
	cs, err := OpenClientStore(t.TempDir(), WithResourceServers(testResourceServers), WithBcryptCost(bcrypt.MinCost), WithClock(clk.Now), WithDefaultTokenValidity(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	id, secret := mustCreate(t, cs, "crud")
	if len(id) != 26 || strings.Trim(id, lowerAlnum) != "" {
		t.Errorf("client id %q is not 26 lowercase alphanumerics", id)
	}
	if len(secret) != 51 || strings.Trim(secret, lowerAlnum) != "" {
		t.Errorf("secret has length %d or bad characters", len(secret))
	}
	c, ok := cs.Get(id)
	if !ok || c.TokenValidity != 10*time.Minute || !c.AllowsFlow(FlowClientCredentials) || len(c.AllowedScopes) != 2 || !c.CreatedAt.Equal(clk.Now()) {
		t.Errorf("Get = %+v %v", c, ok)
	}
	js, _ := json.Marshal(c)
	if strings.Contains(string(js), "$2a$") || !strings.Contains(string(js), `"ClientId":"`+id) || !strings.Contains(string(js), `"AccessTokenValidity":600`) {
		t.Errorf("json = %s", js)
	}

	for _, bad := range []struct {
		name     string
		scopes   []string
		validity time.Duration
	}{
		{"", nil, 0},
		{"bad\nname", nil, 0},
		{"ok", []string{"bags"}, 0},
		{"ok", []string{testRSID + "/other"}, 0},
		{"ok", nil, 4 * time.Minute},
		{"ok", nil, 25 * time.Hour},
	} {
		if _, _, err := cs.Create(bad.name, bad.scopes, bad.validity); err == nil {
			t.Errorf("Create(%q, %v, %v) succeeded", bad.name, bad.scopes, bad.validity)
		}
	}

	clk.Advance(time.Minute)
	name, validity := "renamed", 2*time.Hour
	c, err = cs.Update(id, ClientUpdate{Name: &name, TokenValidity: &validity, Scopes: []string{scopeIngests, scopeIngests}})
	if err != nil || c.Name != name || c.TokenValidity != validity || len(c.AllowedScopes) != 1 || !c.LastModifiedAt.Equal(clk.Now()) {
		t.Errorf("Update = %+v, %v", c, err)
	}
	if _, err := cs.Update(id, ClientUpdate{Flows: []string{"implicit"}}); err == nil {
		t.Error("Update accepted an unsupported flow")
	}
	if _, err := cs.Update("nope", ClientUpdate{Name: &name}); !errors.Is(err, ErrClientNotFound) {
		t.Errorf("Update unknown: %v", err)
	}

	if _, err := cs.Authenticate(id, secret); err != nil {
		t.Errorf("Authenticate: %v", err)
	}
	for _, tc := range []struct{ id, secret string }{{id, "wrong"}, {"nope", secret}, {"", secret}, {id, ""}} {
		if _, err := cs.Authenticate(tc.id, tc.secret); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("Authenticate(%q, …) = %v", tc.id, err)
		}
	}
	newSecret, err := cs.RotateSecret(id)
	if err != nil || newSecret == secret {
		t.Fatalf("RotateSecret: %v", err)
	}
	if _, err := cs.Authenticate(id, secret); err == nil {
		t.Error("old secret still valid after rotation (cache not invalidated)")
	}
	if _, err := cs.RotateSecret("nope"); !errors.Is(err, ErrClientNotFound) {
		t.Errorf("RotateSecret unknown: %v", err)
	}
	id2, _ := mustCreate(t, cs, "second", scopeBags)
	if l := cs.List(); len(l) != 2 || l[0].ID != id || l[1].ID != id2 {
		t.Errorf("List = %+v", l)
	}
	if err := cs.Delete(id); err != nil {
		t.Fatal(err)
	}
	if err := cs.Delete(id); !errors.Is(err, ErrClientNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if _, ok := cs.Get(id); ok {
		t.Error("deleted client still there")
	}
}

func TestStoreWithoutResourceServers(t *testing.T) {
	cs, err := OpenClientStore(t.TempDir(), WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cs.Create("x", nil, 0); err == nil {
		t.Error("Create without scopes and without resource servers succeeded")
	}
	if _, _, err := cs.Create("x", []string{"https://any.example/thing"}, 0); err != nil {
		t.Errorf("syntactically valid scope refused: %v", err)
	}
	if _, err := OpenClientStore(""); err == nil {
		t.Error("empty state dir accepted")
	}
	if _, err := OpenClientStore(t.TempDir(), WithDefaultTokenValidity(time.Minute)); err == nil {
		t.Error("bad default validity accepted")
	}
}
