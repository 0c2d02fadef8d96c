package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCAIsMadeOnceAndKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	ca, err := LoadOrCreateCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Certificate().IsCA {
		t.Fatal("not a CA certificate")
	}
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %#o, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %#o, want 0700", di.Mode().Perm())
	}
	again, err := LoadOrCreateCA(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certificate().Equal(ca.Certificate()) {
		t.Error("a second start made a new CA; clients that trust the first would break")
	}
	if again.CertFile() != filepath.Join(dir, CACertFile) {
		t.Errorf("CertFile %s", again.CertFile())
	}
}

func TestCARefusesAKeyOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, CAKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateCA(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("err = %v, want a refusal naming the mode", err)
	}
}

func TestCAWithOnlyOneFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir, nil); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, CAKeyFile))
	if _, err := LoadOrCreateCA(dir, nil); err == nil {
		t.Fatal("a CA certificate without its key was accepted (or silently replaced)")
	}
}

func TestExpiredCAIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir, nil); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(11 * 365 * 24 * time.Hour) }
	_, err := LoadOrCreateCA(dir, later)
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v, want expired", err)
	}
}

func TestIssuedCertificateVerifiesForEachName(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(LocalNames("127.0.0.1:0", "api.example.org"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	for _, name := range []string{"127.0.0.1", "::1", "localhost", "api.localhost", "api.example.org"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"example.org", "a.b.localhost", "10.0.0.1"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err == nil {
			t.Errorf("%s verified, but the certificate does not name it", name)
		}
	}
	if cert.Leaf.NotAfter.After(time.Now().Add(leafValidity + time.Hour)) {
		t.Errorf("leaf valid until %s", cert.Leaf.NotAfter)
	}
}

func TestLocalNamesSkipsAnUnspecifiedListenHost(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:8080", "[::]:8080", ":8080"} {
		for _, n := range LocalNames(listen) {
			if n == "0.0.0.0" || n == "::" || n == "" {
				t.Errorf("%s: names %q", listen, n)
			}
		}
	}
	if n := LocalNames("127.0.0.5:8080"); n[len(n)-1] != "127.0.0.5" {
		t.Errorf("names %q lack the listen host", n)
	}
}

// writePair issues a certificate for names and writes it and its key as
// PEM files.
func writePair(t *testing.T, ca *CA, dir, name string, names ...string) Files {
	t.Helper()
	c, err := ca.Issue(names)
	if err != nil {
		t.Fatal(err)
	}
	f := Files{CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+"-key.pem")}
	if err := WriteFiles(c, f); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(f.KeyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %#o", fi.Mode().Perm())
	}
	return f
}

// TestOwnCertificatesArePickedBySNI serves a listener with a default
// certificate and one for a custom domain, and checks what a client
// asking for each name gets.
func TestOwnCertificatesArePickedBySNI(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	def := writePair(t, ca, dir, "default", "gw.internal.test")
	dom := writePair(t, ca, dir, "domain", "api.example.org")
	l := ListenerTLS{CertFile: def.CertFile, KeyFile: def.KeyFile, Certificates: []Files{dom}}
	scfg, err := ServerConfig(l, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	ccfg, err := ClientConfig(ca.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gw.internal.test", "api.example.org"} {
		cc := ccfg.Clone()
		cc.ServerName = name
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := conn.ConnectionState().PeerCertificates[0].DNSNames[0]; got != name {
			t.Errorf("asked for %s, got the certificate of %s", name, got)
		}
		if p := conn.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			t.Errorf("ALPN %q", p)
		}
		conn.Close()
	}
}

func TestListenerTLSValidate(t *testing.T) {
	dir := t.TempDir()
	ca, _ := LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	good := writePair(t, ca, dir, "good", "x.test")
	for _, tc := range []struct {
		name string
		l    ListenerTLS
		want string
	}{
		{"none", ListenerTLS{}, ""},
		{"pair", ListenerTLS{CertFile: good.CertFile, KeyFile: good.KeyFile}, ""},
		{"cert only", ListenerTLS{CertFile: good.CertFile}, "go together"},
		{"missing file", ListenerTLS{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: good.KeyFile}, "certFile/keyFile"},
		{"key of another cert", ListenerTLS{CertFile: good.CertFile, KeyFile: ca.CertFile()}, "certFile/keyFile"},
		{"half extra", ListenerTLS{CertFile: good.CertFile, KeyFile: good.KeyFile, Certificates: []Files{{CertFile: good.CertFile}}}, "certificates[0]"},
	} {
		err := tc.l.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ServerConfig(ListenerTLS{}, nil, nil); err == nil {
		t.Error("no certificate and no CA: accepted")
	}
}

func TestClientConfigRefusesAFileWithoutCertificates(t *testing.T) {
	f := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(f, []byte("not pem"), 0o644)
	if _, err := ClientConfig(f); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("err = %v", err)
	}
	if _, err := ClientConfig(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("a missing CA bundle was accepted")
	}
}
