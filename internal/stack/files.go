package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/portway/portway/internal/atomicfile"
)

// File names in the state dir that other tools rely on.
const (
	EndpointsFile   = "endpoints.json"
	CredentialsFile = "oauth-credentials.json"
)

// Endpoints is endpoints.json: where a running stack can be reached.
type Endpoints struct {
	APIURL     string `json:"api_url"`
	TokenURL   string `json:"token_url"`
	JWKSURL    string `json:"jwks_url"`
	ControlURL string `json:"control_url"`
	// CAFile is the local CA's certificate when the stack serves HTTPS
	// with it (portway up --tls): clients trust it to reach the URLs.
	CAFile string `json:"ca_file,omitempty"`
}

// Credentials is oauth-credentials.json. The storage service's Python client
// passes every key to its constructor, so it must hold exactly these three.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	TokenURL     string `json:"token_url"`
}

// ReadEndpoints reads endpoints.json from the state dir.
func ReadEndpoints(stateDir string) (Endpoints, error) {
	var e Endpoints
	err := readJSON(filepath.Join(stateDir, EndpointsFile), &e)
	if errors.Is(err, fs.ErrNotExist) {
		return e, fmt.Errorf("no %s in %s: is `portway up --state-dir %s` running?", EndpointsFile, stateDir, stateDir)
	}
	return e, err
}

// ReadCredentials reads oauth-credentials.json from the state dir.
func ReadCredentials(stateDir string) (Credentials, error) {
	var c Credentials
	err := readJSON(filepath.Join(stateDir, CredentialsFile), &c)
	if errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("no %s in %s: start the stack once with `portway up --state-dir %s`", CredentialsFile, stateDir, stateDir)
	}
	return c, err
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes v to path atomically (temp file and rename) with mode perm.
func writeJSON(path string, v any, perm os.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	return atomicfile.Write(path, data, perm)
}
