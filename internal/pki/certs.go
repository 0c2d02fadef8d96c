package pki

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// renewBefore is how long before its end a certificate from the local CA
// is replaced by a new one, so a stack that runs for months keeps serving.
const renewBefore = 7 * 24 * time.Hour

// Certs are the certificates one listener serves, which can change while
// it serves: Reload re-reads its own files (a renewed certificate, on
// SIGHUP), and a certificate from the local CA is issued anew before it
// ends. Handshakes in flight keep the certificate they started with.
type Certs struct {
	l     ListenerTLS
	ca    *CA
	names []string
	now   func() time.Time

	cur   atomic.Pointer[[]tls.Certificate]
	issue sync.Mutex // one re-issue at a time
}

// NewCerts loads a listener's certificates: its own files, else one the
// local CA issues for names.
func NewCerts(l ListenerTLS, ca *CA, names []string) (*Certs, error) {
	if !l.Own() && ca == nil {
		return nil, errors.New("no certificate: give the listener certFile and keyFile, or enable the local CA")
	}
	c := &Certs{l: l, ca: ca, names: names, now: time.Now}
	if ca != nil {
		c.now = ca.now
	}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the listener's own certificate files again, or issues a
// new certificate from the local CA. On error the current ones stay.
func (c *Certs) Reload() error {
	var certs []tls.Certificate
	if c.l.Own() {
		if c.l.CertFile == "" || c.l.KeyFile == "" {
			return c.l.Validate()
		}
		for _, f := range append([]Files{{c.l.CertFile, c.l.KeyFile}}, c.l.Certificates...) {
			if f.CertFile == "" || f.KeyFile == "" {
				return c.l.Validate()
			}
			pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
			if err != nil {
				return fmt.Errorf("load %s: %w", f.CertFile, err)
			}
			certs = append(certs, pair)
		}
	} else {
		pair, err := c.ca.Issue(c.names)
		if err != nil {
			return err
		}
		certs = append(certs, *pair)
	}
	c.cur.Store(&certs)
	return nil
}

// Config is the listener's TLS: TLS 1.2 at least, HTTP/1.1 only, the
// certificate picked by the name the client asks for (SNI), the first
// one otherwise.
func (c *Certs) Config() *tls.Config {
	return &tls.Config{
		GetCertificate: c.get,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
	}
}

func (c *Certs) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := *c.cur.Load()
	if !c.l.Own() && c.now().Add(renewBefore).After(certs[0].Leaf.NotAfter) {
		c.renew(certs)
		certs = *c.cur.Load()
	}
	for i := range certs {
		if hello.SupportsCertificate(&certs[i]) == nil {
			return &certs[i], nil
		}
	}
	return &certs[0], nil
}

// renew issues a new local certificate unless another handshake already
// did; a failure keeps the old one (still valid for days).
func (c *Certs) renew(seen []tls.Certificate) {
	c.issue.Lock()
	defer c.issue.Unlock()
	if cur := *c.cur.Load(); &cur[0] != &seen[0] {
		return
	}
	_ = c.Reload()
}
