// Package pki gives portway's listeners their TLS: a local certificate
// authority kept in the state dir (ECDSA P-256, made at first use, kept
// across restarts) that issues the serving certificates of `portway up
// --tls`, a user's own certificate and key files per listener, SNI across
// them, and the client side: a root pool of the system's CAs plus the
// local CA or a configured bundle.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portway/portway/internal/atomicfile"
)

// File names inside a CA directory (<state>/tls/).
const (
	CACertFile = "ca.pem"     // the CA certificate: give it to clients
	CAKeyFile  = "ca-key.pem" // its private key, mode 0600
)

// Validity of what the CA issues.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 90 * 24 * time.Hour
)

// CA is a local certificate authority.
type CA struct {
	dir  string
	cert *x509.Certificate
	key  crypto.Signer
	now  func() time.Time
}

// LoadOrCreateCA opens the CA in dir, making one (and dir, mode 0700) when
// there is none. A key file readable by others is refused: it signs
// certificates every client of this stack trusts. now may be nil.
func LoadOrCreateCA(dir string, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	ca := &CA{dir: dir, now: now}
	certPEM, certErr := os.ReadFile(filepath.Join(dir, CACertFile))
	keyPEM, keyErr := os.ReadFile(filepath.Join(dir, CAKeyFile))
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return ca, ca.create()
	case certErr != nil:
		return nil, fmt.Errorf("local CA: %w", certErr)
	case keyErr != nil:
		return nil, fmt.Errorf("local CA: %w", keyErr)
	}
	if err := checkPrivate(filepath.Join(dir, CAKeyFile)); err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	if ca.cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", dir, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !ca.cert.IsCA {
		return nil, fmt.Errorf("local CA in %s: %s is not a CA certificate with its key", dir, CACertFile)
	}
	if now().After(ca.cert.NotAfter) {
		return nil, fmt.Errorf("local CA in %s expired on %s: remove the directory to make a new one (and trust the new %s)",
			dir, ca.cert.NotAfter.Format(time.DateOnly), CACertFile)
	}
	ca.key = signer
	return ca, nil
}

func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by others (mode %#o): chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}

func (ca *CA) create() error {
	if err := os.MkdirAll(ca.dir, 0o700); err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	now := ca.now()
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"portway"}, CommonName: "portway local CA " + host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	// The key first: a certificate without its key would be unusable.
	if err := atomicfile.Write(filepath.Join(ca.dir, CAKeyFile), pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(ca.dir, CACertFile), pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	ca.cert, _ = x509.ParseCertificate(der)
	ca.key = key
	return nil
}

// CertFile is the path of the CA certificate, for clients to trust.
func (ca *CA) CertFile() string { return filepath.Join(ca.dir, CACertFile) }

// Certificate is the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Issue makes a serving certificate for names: IP literals become IP
// SANs, the rest DNS SANs (wildcards like *.localhost allowed). The first
// name is the subject's common name.
func (ca *CA) Issue(names []string) (*tls.Certificate, error) {
	if len(names) == 0 {
		return nil, errors.New("issue a certificate: no names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("issue a certificate: %w", err)
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"portway"}, CommonName: names[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %s: %w", strings.Join(names, ", "), err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// randomSerial is a positive 127-bit serial number.
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// WriteFiles writes c's certificate chain and private key as PEM files,
// the key with mode 0600: for hosts that serve with files of their own.
func WriteFiles(c *tls.Certificate, f Files) error {
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pemBlock("CERTIFICATE", der)...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return fmt.Errorf("write %s: %w", f.KeyFile, err)
	}
	if err := atomicfile.Write(f.KeyFile, pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(f.CertFile, chain, 0o644)
}
