package auth

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"
)

func publishedKIDs(t *testing.T, s *Server) []string {
	t.Helper()
	var doc jwksDoc
	getJSON(t, s.JWKSURL(), &doc)
	var out []string
	for _, k := range doc.Keys {
		out = append(out, k["kid"])
	}
	return out
}

func statuses(infos []KeyInfo) map[string]string {
	m := map[string]string{}
	for _, k := range infos {
		m[k.KID] = k.Status
	}
	return m
}

// TestKeyRotation rotates from another store on the same state dir (as
// `portway keys rotate` does from another process) while a server runs.
func TestKeyRotation(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t, clk)
	s := startServer(t, cfg)
	id, secret, err := s.Clients().Create("daylong", []string{scopeBags}, MaxTokenValidity)
	if err != nil {
		t.Fatal(err)
	}
	getToken := func() string {
		t.Helper()
		resp, body := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
		if resp.StatusCode != 200 {
			t.Fatalf("token: %s %s", resp.Status, body)
		}
		return tokenFrom(t, body).AccessToken
	}
	verifyAt := func(token string, at time.Time) error {
		var doc jwksDoc
		getJSON(t, s.JWKSURL(), &doc)
		_, err := verifyJWT(token, rsaKeys(t, doc), s.Issuer(), at)
		return err
	}

	before := publishedKIDs(t, s)
	if len(before) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(before))
	}
	kidA, kidB := before[0], before[1]
	oldToken := getToken()
	if kid := decodeSegment(t, strings.Split(oldToken, ".")[0])["kid"]; kid != kidA {
		t.Fatalf("token kid %v, want the active key %s", kid, kidA)
	}

	other, err := OpenKeyStore(cfg.StateDir, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	rotatedAt := clk.Now()
	active, err := other.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	// The pre-published next key now signs.
	if active.KID != kidB || active.Status != KeyActive {
		t.Fatalf("after rotation active = %+v, want %s", active, kidB)
	}
	if got := s.KeyID(); got != kidB {
		t.Fatalf("server signs with %s after rotation elsewhere, want %s", got, kidB)
	}
	after := publishedKIDs(t, s)
	if len(after) != 3 || after[0] != kidB || !slices.Contains(after, kidA) {
		t.Fatalf("JWKS after rotation = %v, want [%s, <new next>, %s]", after, kidB, kidA)
	}
	infos := s.Keys().Keys()
	st := statuses(infos)
	if st[kidA] != KeyRetiring || st[kidB] != KeyActive || st[after[1]] != KeyNext {
		t.Errorf("statuses = %v", st)
	}
	wantRetire := rotatedAt.Add(MaxTokenValidity + KeyRetireGrace)
	for _, k := range infos {
		if k.KID == kidA && !k.RetireAfter.Equal(wantRetire) {
			t.Errorf("retire_after = %v, want %v", k.RetireAfter, wantRetire)
		}
	}

	newToken := getToken()
	if kid := decodeSegment(t, strings.Split(newToken, ".")[0])["kid"]; kid != kidB {
		t.Errorf("new token kid = %v, want %s", kid, kidB)
	}
	for name, tok := range map[string]string{"old": oldToken, "new": newToken} {
		if err := verifyAt(tok, clk.Now()); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}

	// The old key stays published while its last token is valid…
	clk.Advance(MaxTokenValidity - time.Second)
	if err := verifyAt(oldToken, clk.Now()); err != nil {
		t.Errorf("old token just before it expires: %v", err)
	}
	// …and is dropped once every token it signed has expired.
	clk.Advance(wantRetire.Sub(clk.Now()))
	if kids := publishedKIDs(t, s); len(kids) != 2 || slices.Contains(kids, kidA) {
		t.Errorf("JWKS at retire time = %v, want %s gone", kids, kidA)
	}
	// The next write prunes it from the file.
	if _, err := other.Rotate(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(other.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), kidA) {
		t.Errorf("retired key %s still in keys.json", kidA)
	}
	if fi, _ := os.Stat(other.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("keys.json mode %v", fi.Mode())
	}
	if got := statuses(s.Keys().Keys()); len(got) != 3 || got[kidB] != KeyRetiring {
		t.Errorf("after second rotation: %v", got)
	}
}

func TestRotateWhileStopped(t *testing.T) {
	clk := newFakeClock()
	cfg := testConfig(t, clk)
	ks, err := OpenKeyStore(cfg.StateDir, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	active, err := ks.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != active.KID || len(s.Keys().Keys()) != 3 {
		t.Errorf("server after offline rotation: kid %s keys %+v", s.KeyID(), s.Keys().Keys())
	}
	// A restart after every old token expired prunes the retired key.
	clk.Advance(MaxTokenValidity + KeyRetireGrace)
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s2.Keys().Keys()); n != 2 || s2.KeyID() != active.KID {
		t.Errorf("after expiry: %d keys, kid %s", n, s2.KeyID())
	}
	var kf keysFile
	data, _ := os.ReadFile(ks.Path())
	if err := json.Unmarshal(data, &kf); err != nil || len(kf.Keys) != 2 {
		t.Errorf("keys.json has %d keys (%v), want 2", len(kf.Keys), err)
	}
}

// TestVersion1KeysFile upgrades a foundation-era file (one key, no status).
func TestVersion1KeysFile(t *testing.T) {
	dir := t.TempDir()
	authDir, _ := ensureAuthDir(dir)
	sk := testSigningKey(t, 0, KeyActive, time.Time{})
	data, _ := marshalKeys([]*signingKey{sk})
	var kf keysFile
	_ = json.Unmarshal(data, &kf)
	kf.Version, kf.Keys[0].Status = 1, ""
	data, _ = json.Marshal(kf)
	if err := os.WriteFile(filepath.Join(authDir, keysFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := OpenKeyStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := ks.Keys()
	if len(keys) != 2 || keys[0].KID != sk.kid || keys[0].Status != KeyActive || keys[1].Status != KeyNext {
		t.Errorf("upgraded keys = %+v", keys)
	}
}

func TestInvalidKeysFiles(t *testing.T) {
	future := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(i int, status string, retire time.Time) keyRecord {
		data, _ := marshalKeys([]*signingKey{testSigningKey(t, i, status, retire)})
		var kf keysFile
		_ = json.Unmarshal(data, &kf)
		kf.Keys[0].Status, kf.Keys[0].RetireAfter = status, retire
		return kf.Keys[0]
	}
	tests := []struct {
		name string
		keys []keyRecord
		want string
	}{
		{"two active", []keyRecord{rec(0, KeyActive, time.Time{}), rec(1, KeyActive, time.Time{})}, "want exactly 1"},
		{"no active", []keyRecord{rec(0, KeyNext, time.Time{})}, "want exactly 1"},
		{"two next", []keyRecord{rec(0, KeyActive, time.Time{}), rec(1, KeyNext, time.Time{}), rec(2, KeyNext, time.Time{})}, "at most 1"},
		{"unknown status", []keyRecord{rec(0, "spare", time.Time{})}, "status"},
		{"retiring without retire_after", []keyRecord{rec(0, KeyActive, time.Time{}), rec(1, KeyRetiring, time.Time{})}, "retire_after"},
		{"duplicate kid", []keyRecord{rec(0, KeyActive, time.Time{}), rec(0, KeyRetiring, future)}, "duplicate kid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			authDir, _ := ensureAuthDir(dir)
			data, _ := json.Marshal(keysFile{Version: 2, Keys: tc.keys})
			if err := os.WriteFile(filepath.Join(authDir, keysFileName), data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeyStore(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBrokenKeysFileKeepsLastGood: a running server keeps signing with the
// keys it has when the file turns unreadable, and picks up a good file again.
func TestBrokenKeysFileKeepsLastGood(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	s := startServer(t, cfg)
	kid := s.KeyID()
	path := s.Keys().Path()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != kid || len(publishedKIDs(t, s)) != 2 {
		t.Errorf("keys changed after the file broke")
	}
	id, secret := mustCreate(t, s.Clients(), "c")
	if resp, body := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret)}); resp.StatusCode != 200 {
		t.Errorf("token with a broken keys file: %s %s", resp.Status, body)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != kid {
		t.Errorf("keys changed after the file was removed")
	}
	if _, err := writeFileVersioned(path, good); err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != kid {
		t.Errorf("kid after restoring the file = %s", s.KeyID())
	}
}

func TestIssuerStyles(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(*Config)
		wantIss    func(s *Server) string
		wellKnown  string // path prefix of the served documents
		wantJWKSAt func(s *Server) string
	}{
		{
			name:      "local",
			mod:       func(*Config) {},
			wantIss:   func(s *Server) string { return s.URL() + "/eu-west-1_portway" },
			wellKnown: "/eu-west-1_portway",
		},
		{
			name:      "aws, region of the default pool id",
			mod:       func(c *Config) { c.IssuerStyle = IssuerStyleAWS },
			wantIss:   func(*Server) string { return "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_portway" },
			wellKnown: "/eu-west-1_portway",
		},
		{
			name: "aws with region, local pool id",
			mod: func(c *Config) {
				c.IssuerStyle, c.Region, c.UserPoolID = IssuerStyleAWS, "eu-west-2", "local_portway"
			},
			wantIss:   func(*Server) string { return "https://cognito-idp.eu-west-2.amazonaws.com/local_portway" },
			wellKnown: "/local_portway",
		},
		{
			name: "aws region from pool id",
			mod: func(c *Config) {
				c.IssuerStyle, c.UserPoolID = IssuerStyleAWS, "us-gov-west-1_AbC123"
			},
			wantIss:   func(*Server) string { return "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_AbC123" },
			wellKnown: "/us-gov-west-1_AbC123",
		},
		{
			name:      "explicit issuer",
			mod:       func(c *Config) { c.Issuer = "https://idp.example.org/pools/p1" },
			wantIss:   func(*Server) string { return "https://idp.example.org/pools/p1" },
			wellKnown: "/pools/p1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			cfg := testConfig(t, clk)
			tc.mod(&cfg)
			s := startServer(t, cfg)
			wantIss := tc.wantIss(s)
			if s.Issuer() != wantIss {
				t.Fatalf("Issuer() = %q, want %q", s.Issuer(), wantIss)
			}
			var disc map[string]any
			getJSON(t, s.URL()+tc.wellKnown+"/.well-known/openid-configuration", &disc)
			if disc["issuer"] != wantIss || disc["jwks_uri"] != s.URL()+tc.wellKnown+"/.well-known/jwks.json" {
				t.Errorf("discovery issuer %v jwks_uri %v", disc["issuer"], disc["jwks_uri"])
			}
			var doc jwksDoc
			getJSON(t, s.URL()+tc.wellKnown+"/.well-known/jwks.json", &doc)
			id, secret := mustCreate(t, s.Clients(), "iss")
			_, body := post(t, s, tokenReq{form: ccForm("client_id", id, "client_secret", secret)})
			claims, err := verifyJWT(tokenFrom(t, body).AccessToken, rsaKeys(t, doc), wantIss, clk.Now())
			if err != nil {
				t.Fatalf("verify with issuer %s: %v", wantIss, err)
			}
			if claims["iss"] != wantIss {
				t.Errorf("iss = %v", claims["iss"])
			}
		})
	}
}

func TestIssuerConfigValidate(t *testing.T) {
	base := Config{StateDir: "x"}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"local explicit", func(c *Config) { c.IssuerStyle = IssuerStyleLocal }, ""},
		{"aws default pool has a region", func(c *Config) { c.IssuerStyle = IssuerStyleAWS }, ""},
		{"aws local pool needs region", func(c *Config) { c.IssuerStyle, c.UserPoolID = IssuerStyleAWS, "local_portway" }, "region: required"},
		{"aws with region", func(c *Config) { c.IssuerStyle, c.Region = IssuerStyleAWS, "eu-west-2" }, ""},
		{"aws region from pool", func(c *Config) { c.IssuerStyle, c.UserPoolID = IssuerStyleAWS, "eu-west-1_x1" }, ""},
		{"bad style", func(c *Config) { c.IssuerStyle = "cognito" }, "issuerStyle:"},
		{"bad region", func(c *Config) { c.IssuerStyle, c.Region = IssuerStyleAWS, "Europe" }, "region:"},
		{"issuer with aws style", func(c *Config) { c.IssuerStyle, c.Region, c.Issuer = IssuerStyleAWS, "eu-west-1", "https://x/p" }, "issuer:"},
		{"issuer ok", func(c *Config) { c.Issuer = "http://127.0.0.1:9/p_1" }, ""},
		{"issuer no path", func(c *Config) { c.Issuer = "https://idp.example" }, ""},
		{"issuer ftp", func(c *Config) { c.Issuer = "ftp://x/p" }, "issuer: scheme"},
		{"issuer no host", func(c *Config) { c.Issuer = "https:///p" }, "issuer: host"},
		{"issuer query", func(c *Config) { c.Issuer = "https://x/p?a=1" }, "issuer: must not"},
		{"issuer trailing slash", func(c *Config) { c.Issuer = "https://x/p/" }, "issuer: must not end"},
		{"issuer odd path", func(c *Config) { c.Issuer = "https://x/{p}" }, "issuer: path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestNoKeysGeneratesTwo checks a fresh state dir gets an active and a next
// key in a 0600 file.
func TestNoKeysGeneratesTwo(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{StateDir: dir, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	keys := s.Keys().Keys()
	if len(keys) != 2 || keys[0].Status != KeyActive || keys[1].Status != KeyNext {
		t.Errorf("keys = %+v", keys)
	}
	fi, err := os.Stat(filepath.Join(dir, "auth", keysFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("keys.json: %v %v", fi, err)
	}
}

// Key ids look like Cognito's: the standard base64 (with padding) of 32
// bytes, e.g. "vyVQH7UMjwYboVvyFf+zd4KHZfgc+RtmU/A2vHhgITI=" in a real user
// pool's JWKS. portway's 32 bytes are the key's RFC 7638 SHA-256
// thumbprint.
func TestKIDHasCognitoForm(t *testing.T) {
	s := startServer(t, testConfig(t, newFakeClock()))
	kids := publishedKIDs(t, s)
	if len(kids) != 2 {
		t.Fatalf("JWKS kids %v", kids)
	}
	for i, kid := range kids {
		sum, err := base64.StdEncoding.Strict().DecodeString(kid)
		if err != nil || len(sum) != 32 || len(kid) != 44 {
			t.Errorf("kid %q is not the padded standard base64 of 32 bytes (%v)", kid, err)
		}
		jk := jose.JSONWebKey{Key: &sharedKeys()[i].PublicKey}
		want, _ := jk.Thumbprint(crypto.SHA256)
		if !bytes.Equal(sum, want) {
			t.Errorf("kid %q is not the key's SHA-256 thumbprint", kid)
		}
	}
	if s.KeyID() != kids[0] {
		t.Errorf("signing kid %q, JWKS %v", s.KeyID(), kids)
	}
}

// A keys file written before key ids took Cognito's form (base64url
// without padding) still loads: the keys that may have signed tokens keep
// their ids, so those tokens still verify; the next key, which has signed
// nothing, gets an id of the new form, so one rotation brings the form in.
func TestLegacyKIDsKept(t *testing.T) {
	dir := t.TempDir()
	authDir, _ := ensureAuthDir(dir)
	keys := []*signingKey{testSigningKey(t, 0, KeyActive, time.Time{}), testSigningKey(t, 1, KeyNext, time.Time{})}
	data, _ := marshalKeys(keys)
	var kf keysFile
	_ = json.Unmarshal(data, &kf)
	legacy := make([]string, len(kf.Keys))
	for i := range kf.Keys {
		sum, err := base64.StdEncoding.DecodeString(kf.Keys[i].KID)
		if err != nil {
			t.Fatal(err)
		}
		legacy[i] = base64.RawURLEncoding.EncodeToString(sum)
		kf.Keys[i].KID = legacy[i]
	}
	data, _ = json.Marshal(kf)
	if err := os.WriteFile(filepath.Join(authDir, keysFileName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := OpenKeyStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := ks.Keys()
	if len(got) != 2 || got[0].KID != legacy[0] || got[1].KID != keys[1].kid {
		t.Fatalf("keys %+v, want the active key's legacy kid %s kept and the next key's %s", got, legacy[0], keys[1].kid)
	}
	if !strings.Contains(string(ks.JWKS()), `"kid":"`+legacy[0]+`"`) {
		t.Errorf("JWKS lacks the legacy kid: %s", ks.JWKS())
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	if got := ks.ActiveKID(); got != keys[1].kid {
		t.Errorf("active kid after rotation %q, want %q", got, keys[1].kid)
	}
	// Reopened, the retiring key keeps its legacy id.
	ks2, err := OpenKeyStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(ks2.Keys()); st[legacy[0]] != KeyRetiring {
		t.Errorf("legacy key after rotation: %v", st)
	}
}
