package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Files is a certificate (chain) and its private key, as PEM files.
type Files struct {
	CertFile string `yaml:"certFile,omitempty"`
	KeyFile  string `yaml:"keyFile,omitempty"`
}

// ListenerTLS is what a stack file says of one listener's TLS: its own
// certificate, and more chosen by the name a client asks for (SNI), one
// per custom domain for instance. A listener without its own certificate
// gets one from the local CA when TLS is enabled for the whole stack.
type ListenerTLS struct {
	CertFile     string  `yaml:"certFile,omitempty"`
	KeyFile      string  `yaml:"keyFile,omitempty"`
	Certificates []Files `yaml:"certificates,omitempty"`
}

// Own reports whether the listener has certificates of its own.
func (l ListenerTLS) Own() bool {
	return l.CertFile != "" || l.KeyFile != "" || len(l.Certificates) > 0
}

// Validate checks that certificates and keys come in pairs and load.
// Errors name the field below the listener's tls section.
func (l ListenerTLS) Validate() error {
	if l.Own() && (l.CertFile == "" || l.KeyFile == "") {
		return errors.New("certFile and keyFile go together (a listener with more certificates needs its default one too)")
	}
	if l.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile); err != nil {
			return fmt.Errorf("certFile/keyFile: %w", err)
		}
	}
	for i, f := range l.Certificates {
		if f.CertFile == "" || f.KeyFile == "" {
			return fmt.Errorf("certificates[%d]: certFile and keyFile are both required", i)
		}
		if _, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile); err != nil {
			return fmt.Errorf("certificates[%d]: %w", i, err)
		}
	}
	return nil
}

// ServerConfig is the TLS a listener serves: its own certificates when it
// has them (the first is the default, the others picked by SNI), else one
// the local CA issues for names. TLS 1.2 at least; HTTP/1.1 only. Use
// NewCerts instead to swap certificates while serving.
func ServerConfig(l ListenerTLS, ca *CA, names []string) (*tls.Config, error) {
	c, err := NewCerts(l, ca, names)
	if err != nil {
		return nil, err
	}
	return c.Config(), nil
}

// LocalNames are the names a local CA certificate covers for a listener
// on listen: loopback by name and address, *.localhost, the listen host
// when it is specific, and extra (custom domains).
func LocalNames(listen string, extra ...string) []string {
	names := []string{"localhost", "*.localhost", "127.0.0.1", "::1"}
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			names = append(names, host)
		}
	}
	return append(names, extra...)
}

// ClientConfig is the TLS of calls between components: the system's roots
// plus the certificates in caFiles (PEM bundles; empty names are skipped).
func ClientConfig(caFiles ...string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range caFiles {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("CA bundle %s: no PEM certificate in it", f)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Scheme is "https" when c is set, else "http".
func Scheme(c *tls.Config) string {
	if c != nil {
		return "https"
	}
	return "http"
}

// TrustHelp is how to make clients trust the CA certificate at certFile.
func TrustHelp(certFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "portway's local CA certificate: %s\n\n", certFile)
	b.WriteString("Trust it for one program, through its environment:\n")
	fmt.Fprintf(&b, "  export SSL_CERT_FILE=%s        # Go, OpenSSL, Python's ssl module\n", certFile)
	fmt.Fprintf(&b, "  export CURL_CA_BUNDLE=%s       # curl\n", certFile)
	fmt.Fprintf(&b, "  export REQUESTS_CA_BUNDLE=%s   # Python requests, requests_oauthlib\n", certFile)
	fmt.Fprintf(&b, "  export NODE_EXTRA_CA_CERTS=%s  # Node.js\n", certFile)
	fmt.Fprintf(&b, "  export AWS_CA_BUNDLE=%s        # the AWS CLI and SDKs\n", certFile)
	fmt.Fprintf(&b, "  curl --cacert %s https://127.0.0.1:8080/v1/...\n\n", certFile)
	b.WriteString("Or for the whole machine (Debian, Ubuntu), then restart the programs:\n")
	fmt.Fprintf(&b, "  sudo cp %s /usr/local/share/ca-certificates/portway.crt && sudo update-ca-certificates\n\n", certFile)
	b.WriteString("SSL_CERT_FILE replaces the system's roots for the program it is set for; the\n")
	b.WriteString("system store adds to them. Anyone holding the CA's key (ca-key.pem, mode 0600)\n")
	b.WriteString("can make certificates your machine trusts once it is in the system store.\n")
	return b.String()
}
