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
	// NLBAddress and TaskSubnet are the private block the stack runs on.
	NLBAddress string `json:"nlb_address,omitempty"`
	TaskSubnet string `json:"task_subnet,omitempty"`
	// ResourceServers are the user pool's resource servers, whose scopes
	// `portway clients create` accepts, and TokenValidity its clients'
	// default ("1h0m0s").
	ResourceServers []ResourceServerJSON `json:"resource_servers,omitempty"`
	TokenValidity   string               `json:"token_validity,omitempty"`
	// Example is a request the stack answers (Config.Example).
	Example *Example `json:"example,omitempty"`
}

// describe adds what endpoints.json tells of the running stack besides
// its URLs: its block, resource servers and example request (e.APIURL
// set).
func (c Config) describe(e *Endpoints) {
	e.NLBAddress, e.TaskSubnet = c.NLB.Address, c.Tasks.Subnet
	for _, rs := range c.Auth.ResourceServers {
		e.ResourceServers = append(e.ResourceServers, ResourceServerJSON{Identifier: rs.Identifier, Scopes: rs.Scopes})
	}
	if c.Auth.TokenValidity != 0 {
		e.TokenValidity = c.Auth.TokenValidity.String()
	}
	if ex, ok := c.Example(); ok {
		ex.URL = e.APIURL + ex.Path
		e.Example = &ex
	}
}

// ResourceServerJSON is a resource server in endpoints.json.
type ResourceServerJSON struct {
	Identifier string   `json:"identifier"`
	Scopes     []string `json:"scopes"`
}

// Scopes lists the full scope strings of the resource servers.
func (e Endpoints) Scopes() []string {
	var out []string
	for _, r := range e.ResourceServers {
		for _, s := range r.Scopes {
			out = append(out, r.Identifier+"/"+s)
		}
	}
	return out
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
