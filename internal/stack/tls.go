package stack

import (
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/portway/portway/internal/pki"
)

// TLSConfig is the stack's HTTPS: the `tls` section of a stack file.
type TLSConfig struct {
	// Enabled serves the gateway, auth and control over HTTPS (`portway
	// up --tls`). A listener without certificates of its own gets one from
	// the local CA in <state>/tls/.
	Enabled bool `yaml:"enabled,omitempty"`
	// CAFile is a PEM bundle trusted, besides the system's roots and the
	// local CA, when components call each other: the gateway fetching the
	// JWKS from auth, the CLI calling the control API.
	CAFile string `yaml:"caFile,omitempty"`
}

// TLSDir is the local CA's directory in the state dir.
const TLSDir = "tls"

// TLSSet is the TLS of each listener of a stack (nil: plain HTTP) and of
// the calls between its components.
type TLSSet struct {
	Gateway, Auth, Control *tls.Config
	// Client trusts the system's roots, tls.caFile and the local CA.
	Client *tls.Config
	// CAFile is the local CA's certificate when one serves a listener.
	CAFile string

	certs []*pki.Certs // the serving listeners', for ReloadCertificates
}

// ReloadCertificates reads every listener's own certificate files again
// (renewed ones, on SIGHUP) and issues new local ones; a listener whose
// files fail to load keeps serving what it had.
func (t TLSSet) ReloadCertificates() error {
	var errs []error
	for _, c := range t.certs {
		if err := c.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// serves reports whether a listener with own certificates l serves HTTPS.
func (c Config) serves(l pki.ListenerTLS) bool { return c.TLS.Enabled || l.Own() }

// usesLocalCA reports whether some listener needs a certificate from the
// local CA.
func (c Config) usesLocalCA() bool {
	if !c.TLS.Enabled {
		return false
	}
	return !c.Gateway.TLS.Own() || !c.Auth.TLS.Own() || !c.Control.TLS.Own()
}

// BuildTLS makes every listener's TLS. The local CA in stateDir/tls is
// opened (made at first use) only when a listener needs it.
func (c Config) BuildTLS(stateDir string) (TLSSet, error) {
	var set TLSSet
	var ca *pki.CA
	if c.usesLocalCA() {
		var err error
		if ca, err = pki.LoadOrCreateCA(filepath.Join(stateDir, TLSDir), nil); err != nil {
			return set, err
		}
		set.CAFile = ca.CertFile()
	}
	domains := make([]string, 0, len(c.Gateway.Domains))
	for _, d := range c.Gateway.Domains {
		domains = append(domains, d.Name)
	}
	listeners := []struct {
		field  string
		l      pki.ListenerTLS
		listen string
		extra  []string
		out    **tls.Config
	}{
		{"gateway.tls", c.Gateway.TLS, c.Gateway.Listen, domains, &set.Gateway},
		{"auth.tls", c.Auth.TLS, c.Auth.Listen, nil, &set.Auth},
		{"control.tls", c.Control.TLS, c.Control.Listen, nil, &set.Control},
	}
	for _, x := range listeners {
		if !c.serves(x.l) {
			continue
		}
		certs, err := pki.NewCerts(x.l, ca, pki.LocalNames(x.listen, x.extra...))
		if err != nil {
			return set, fmt.Errorf("%s: %w", x.field, err)
		}
		set.certs = append(set.certs, certs)
		*x.out = certs.Config()
	}
	client, err := pki.ClientConfig(set.CAFile, c.TLS.CAFile)
	if err != nil {
		return set, fmt.Errorf("tls.caFile: %w", err)
	}
	set.Client = client
	return set, nil
}

// validateTLS checks the certificate files the stack names.
func (c Config) validateTLS() []error {
	var errs []error
	for _, x := range []struct {
		field string
		l     pki.ListenerTLS
	}{{"gateway.tls", c.Gateway.TLS}, {"auth.tls", c.Auth.TLS}, {"control.tls", c.Control.TLS}} {
		if err := x.l.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", x.field, err))
		}
	}
	if c.TLS.CAFile != "" {
		if _, err := pki.ClientConfig(c.TLS.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("tls.caFile: %w", err))
		}
	}
	return errs
}
