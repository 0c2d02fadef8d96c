package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/portway/portway/internal/auth"
)

// ClientsDir is where the credentials of declared app clients are written,
// one <name>.json each, in the oauth-credentials.json format.
const ClientsDir = "clients"

// clientStore is what reconciling declared clients needs of the pool.
type clientStore interface {
	List() []auth.Client
	Create(name string, scopes []string, validity time.Duration) (id, secret string, err error)
	Update(id string, u auth.ClientUpdate) (auth.Client, error)
}

// reconcileClients makes the pool hold every client the config declares:
// a missing one is created and its credentials written (the only time the
// secret exists in clear); an existing one (found by name) gets the
// declared scopes and validity, keeping its secret.
func reconcileClients(store clientStore, declared []ClientConfig, allScopes []string, defaultValidity time.Duration, stateDir, tokenURL string) error {
	byName := map[string]auth.Client{}
	for _, c := range store.List() {
		byName[c.Name] = c
	}
	for _, d := range declared {
		scopes := d.Scopes
		if len(scopes) == 0 {
			scopes = allScopes
		}
		validity := d.TokenValidity
		if validity == 0 {
			validity = defaultValidity
		}
		path := filepath.Join(stateDir, ClientsDir, d.Name+".json")
		update := auth.ClientUpdate{Scopes: scopes, TokenValidity: &validity}
		if d.AllowedOAuthFlows != nil {
			update.Flows = append([]string{}, (*d.AllowedOAuthFlows)...)
		}
		if c, ok := byName[d.Name]; ok {
			if _, err := store.Update(c.ID, update); err != nil {
				return fmt.Errorf("auth.clients %q: %w", d.Name, err)
			}
			// The token URL moves when auth listens on a free port.
			var creds Credentials
			if err := readJSON(path, &creds); err == nil && creds.ClientID == c.ID && creds.TokenURL != tokenURL {
				creds.TokenURL = tokenURL
				if err := writeJSON(path, creds, 0o600); err != nil {
					return fmt.Errorf("auth.clients %q: %w", d.Name, err)
				}
			}
			continue
		}
		id, secret, err := store.Create(d.Name, scopes, validity)
		if err != nil {
			return fmt.Errorf("auth.clients %q: %w", d.Name, err)
		}
		if update.Flows != nil {
			if _, err := store.Update(id, auth.ClientUpdate{Flows: update.Flows}); err != nil {
				return fmt.Errorf("auth.clients %q: %w", d.Name, err)
			}
		}
		dir := filepath.Join(stateDir, ClientsDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("auth.clients %q: %w", d.Name, err)
		}
		creds := Credentials{ClientID: id, ClientSecret: secret, TokenURL: tokenURL}
		if err := writeJSON(path, creds, 0o600); err != nil {
			return fmt.Errorf("auth.clients %q: %w", d.Name, err)
		}
	}
	return nil
}
