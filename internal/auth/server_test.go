package auth

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestLifecycle(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	addr := strings.TrimPrefix(s.URL(), "http://")

	// A second server on the same address fails, naming the address.
	cfg2 := testConfig(t, newFakeClock())
	cfg2.Listen = addr
	s2, err := New(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("busy port: %v", err)
	}
	if err := s2.Stop(context.Background()); err != nil {
		t.Error(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after Stop")
	}
	// Restartable.
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStartCanceledContext(t *testing.T) {
	s, err := New(testConfig(t, newFakeClock()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Start(ctx); err == nil {
		t.Error("Start with canceled context succeeded")
		_ = s.Stop(context.Background())
	}
}

func TestURLsBeforeStartAndPublicURL(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	cfg.Listen = "127.0.0.1:18081"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "http://127.0.0.1:18081" || s.Issuer() != "http://127.0.0.1:18081/eu-west-1_portway" {
		t.Errorf("URL %q Issuer %q", s.URL(), s.Issuer())
	}
	cfg.PublicURL = "https://auth.example.test/"
	cfg.Listen = "127.0.0.1:0"
	cfg.UserPoolID = "eu-west-1_abc123"
	s = startServer(t, cfg)
	if s.Issuer() != "https://auth.example.test/eu-west-1_abc123" || s.TokenURL() != "https://auth.example.test/oauth2/token" {
		t.Errorf("Issuer %q TokenURL %q", s.Issuer(), s.TokenURL())
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{StateDir: "/tmp/x"}
	tests := []struct {
		name  string
		mod   func(*Config)
		field string // "" = valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"full", func(c *Config) {
			c.Listen, c.UserPoolID, c.TokenValidity, c.ResourceServers = "127.0.0.1:0", "local_portway", 5*time.Minute, testResourceServers
		}, ""},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "stateDir"},
		{"bad listen", func(c *Config) { c.Listen = "127.0.0.1" }, "listen"},
		{"bad port", func(c *Config) { c.Listen = "127.0.0.1:99999" }, "listen"},
		{"bad pool id", func(c *Config) { c.UserPoolID = "no-underscore" }, "userPoolId"},
		{"pool id with slash", func(c *Config) { c.UserPoolID = "a/b_c" }, "userPoolId"},
		{"validity too short", func(c *Config) { c.TokenValidity = time.Minute }, "tokenValidity"},
		{"validity too long", func(c *Config) { c.TokenValidity = 25 * time.Hour }, "tokenValidity"},
		{"empty identifier", func(c *Config) { c.ResourceServers = []ResourceServer{{Scopes: []string{"a"}}} }, "resourceServers[0].identifier"},
		{"duplicate identifier", func(c *Config) {
			c.ResourceServers = []ResourceServer{{Identifier: "x"}, {Identifier: "x"}}
		}, "resourceServers[1].identifier"},
		{"scope with slash", func(c *Config) {
			c.ResourceServers = []ResourceServer{{Identifier: "x", Scopes: []string{"a/b"}}}
		}, "resourceServers[0].scopes[0]"},
		{"scope with space", func(c *Config) {
			c.ResourceServers = []ResourceServer{{Identifier: "x", Scopes: []string{"ok", "a b"}}}
		}, "resourceServers[0].scopes[1]"},
		{"duplicate scope", func(c *Config) {
			c.ResourceServers = []ResourceServer{{Identifier: "x", Scopes: []string{"a", "a"}}}
		}, "resourceServers[0].scopes[1]"},
		{"bcrypt cost", func(c *Config) { c.BcryptCost = bcrypt.MaxCost + 1 }, "bcryptCost"},
		{"public url scheme", func(c *Config) { c.PublicURL = "ftp://x" }, "publicURL"},
		{"public url query", func(c *Config) { c.PublicURL = "http://x/?a=b" }, "publicURL"},
		{"negative refill", func(c *Config) { c.AuthFailureRefill = -time.Second }, "authFailureRefill"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field+":")):
				t.Errorf("error = %v, want prefix %q", err, tc.field+":")
			}
		})
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "stateDir") {
		t.Errorf("New(Config{}) = %v", err)
	}
}

// TestConnectionTimeouts checks that a client that stalls while sending
// headers or a body, or idles between requests, is disconnected.
func TestConnectionTimeouts(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.timeouts = httpTimeouts{readHeader: 200 * time.Millisecond, read: 300 * time.Millisecond, write: time.Second, idle: 200 * time.Millisecond}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	addr := strings.TrimPrefix(s.URL(), "http://")

	// closedWithin reports whether the server closes conn before the deadline.
	closedWithin := func(conn net.Conn, d time.Duration) bool {
		_ = conn.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				var ne net.Error
				return !(errors.As(err, &ne) && ne.Timeout())
			}
		}
	}
	for name, send := range map[string]string{
		"stalled headers": "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n",
		"stalled body":    "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=",
		"idle keep-alive": "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(send)); err != nil {
				t.Fatal(err)
			}
			if !closedWithin(conn, 10*time.Second) {
				t.Errorf("connection still open after 10s")
			}
		})
	}
}

// The default user pool id has AWS's form, and with issuerStyle "aws" its
// region prefix gives the region; the old local form is still accepted.
func TestDefaultUserPoolIDHasAWSForm(t *testing.T) {
	if DefaultUserPoolID != "eu-west-1_portway" {
		t.Errorf("DefaultUserPoolID = %q", DefaultUserPoolID)
	}
	cfg := testConfig(t, newFakeClock())
	cfg.UserPoolID, cfg.IssuerStyle = "", IssuerStyleAWS
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_portway"; s.Issuer() != want {
		t.Errorf("Issuer %q, want %q", s.Issuer(), want)
	}
	cfg.UserPoolID, cfg.IssuerStyle = "local_portway", ""
	if err := cfg.Validate(); err != nil {
		t.Errorf("old local pool id refused: %v", err)
	}
}
