package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/portway/portway/internal/pki"
	"github.com/portway/portway/internal/stack"
)

// stackClient is the HTTP client of the CLI's calls to a running stack
// (token endpoint, control API). It trusts the system's roots and, when
// the stack serves HTTPS with its local CA, that CA: the one endpoints.json
// names, else <state>/tls/ca.pem when there is one. It never uses a proxy
// from the environment: the stack is on this machine or its network.
func stackClient(stateDir string, ep stack.Endpoints) (*http.Client, error) {
	caFile := ep.CAFile
	if caFile == "" {
		p := filepath.Join(stateDir, stack.TLSDir, pki.CACertFile)
		if _, err := os.Stat(p); err == nil {
			caFile = p
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	tlsConfig, err := pki.ClientConfig(caFile)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        2,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
