package pki

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// served is the certificate c hands a client that asks for name.
func served(t *testing.T, c *Certs, name string) *tls.Certificate {
	t.Helper()
	cert, err := c.Config().GetCertificate(&tls.ClientHelloInfo{
		ServerName:        name,
		SupportedVersions: []uint16{tls.VersionTLS13},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		CipherSuites:      []uint16{tls.TLS_AES_128_GCM_SHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestReloadReadsRenewedFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := writePair(t, ca, dir, "gw", "gw.test")
	c, err := NewCerts(ListenerTLS{CertFile: f.CertFile, KeyFile: f.KeyFile}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := served(t, c, "gw.test").Leaf.SerialNumber
	writePair(t, ca, dir, "gw", "gw.test") // renewed in place
	if got := served(t, c, "gw.test").Leaf.SerialNumber; got.Cmp(first) != 0 {
		t.Fatal("the new files were used before a reload")
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	second := served(t, c, "gw.test").Leaf.SerialNumber
	if second.Cmp(first) == 0 {
		t.Fatal("Reload kept the old certificate")
	}
	// A broken file fails the reload and the listener keeps serving.
	os.WriteFile(f.KeyFile, []byte("garbage"), 0o600)
	if err := c.Reload(); err == nil {
		t.Fatal("Reload of a broken key succeeded")
	}
	if got := served(t, c, "gw.test").Leaf.SerialNumber; got.Cmp(second) != 0 {
		t.Fatal("a failed reload changed the certificate")
	}
}

func TestLocalCertificateIsRenewedBeforeItEnds(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	ca, err := LoadOrCreateCA(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCerts(ListenerTLS{}, ca, LocalNames("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	first := served(t, c, "localhost").Leaf
	now.Add(int64(leafValidity - renewBefore - time.Hour))
	if got := served(t, c, "localhost").Leaf; !got.Equal(first) {
		t.Fatal("renewed more than a week early")
	}
	now.Add(int64(2 * time.Hour))
	renewed := served(t, c, "localhost").Leaf
	if renewed.Equal(first) {
		t.Fatal("not renewed within a week of its end")
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("renewed certificate ends %s, the old one %s", renewed.NotAfter, first.NotAfter)
	}
}
