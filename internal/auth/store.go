package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	clientsFileName = "clients.json"
	maxClientsFile  = 64 << 20
	maxIDLen        = 128
	maxSecretLen    = 72 // bcrypt's input limit
)

// ClientStore is the file-backed set of app clients in
// <StateDir>/auth/clients.json. It is safe for concurrent use, and notices
// changes other processes make to the file: every read checks the file's
// identity, size and modification time and reloads when they change.
// Secrets are stored only as bcrypt hashes.
type ClientStore struct {
	dir, path string
	opt       storeOptions
	cache     *verifyCache
	dummies   dummyHashes
	compare   func(hash, secret []byte) error // bcrypt's; a seam for tests

	mu        sync.Mutex
	clients   map[string]clientRecord
	usualCost int         // the bcrypt cost most clients' hashes use
	stamp     os.FileInfo // of the file the map was loaded from; nil if none
}

type storeOptions struct {
	catalog  func() *scopeCatalog // nil: scopes checked for syntax only
	validity time.Duration
	cost     int
	now      func() time.Time
	log      *slog.Logger
}

// StoreOption configures OpenClientStore.
type StoreOption func(*storeOptions)

// WithResourceServers makes Create and Update accept only the scopes these
// resource servers define, and lets Create default to all of them.
func WithResourceServers(rss []ResourceServer) StoreOption {
	cat := newScopeCatalog(rss)
	return func(o *storeOptions) { o.catalog = func() *scopeCatalog { return cat } }
}

// WithDefaultTokenValidity sets the validity Create uses when given 0
// (default 1h).
func WithDefaultTokenValidity(d time.Duration) StoreOption {
	return func(o *storeOptions) { o.validity = d }
}

// WithBcryptCost sets the bcrypt cost for new secrets (default bcrypt.DefaultCost).
func WithBcryptCost(cost int) StoreOption { return func(o *storeOptions) { o.cost = cost } }

// WithClock sets the clock used for creation and modification times.
func WithClock(now func() time.Time) StoreOption { return func(o *storeOptions) { o.now = now } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) StoreOption { return func(o *storeOptions) { o.log = l } }

// OpenClientStore opens (creating the directory if needed) the client store
// of stateDir. It works without a running Server, e.g. for a CLI.
func OpenClientStore(stateDir string, opts ...StoreOption) (*ClientStore, error) {
	o := storeOptions{validity: DefaultTokenValidity, cost: bcrypt.DefaultCost, now: time.Now}
	for _, fn := range opts {
		fn(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if err := validateValidity(o.validity); err != nil {
		return nil, fmt.Errorf("client store: default %w", err)
	}
	if o.cost < bcrypt.MinCost || o.cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("client store: bcryptCost %d must be between %d and %d", o.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if stateDir == "" {
		return nil, errors.New("client store: stateDir: required")
	}
	dir, err := ensureAuthDir(stateDir)
	if err != nil {
		return nil, fmt.Errorf("client store: %w", err)
	}
	c := &ClientStore{
		dir:     dir,
		path:    filepath.Join(dir, clientsFileName),
		opt:     o,
		cache:   newVerifyCache(verifyCacheSize),
		compare: bcrypt.CompareHashAndPassword,
		clients: map[string]clientRecord{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reloadLocked(); err != nil {
		return nil, fmt.Errorf("client store: %w", err)
	}
	return c, nil
}

// Path returns the clients file path.
func (c *ClientStore) Path() string { return c.path }

// Create adds a client allowed the client_credentials flow and returns its
// id and its secret; the secret is not retrievable afterwards. Empty scopes
// mean every scope of the configured resource servers; validity 0 means the
// store's default.
func (c *ClientStore) Create(name string, scopes []string, validity time.Duration) (id, secret string, err error) {
	if err := validateName(name); err != nil {
		return "", "", err
	}
	if len(scopes) == 0 && c.opt.catalog != nil {
		scopes = c.opt.catalog().list
	}
	scopes, err = c.normalizeScopes(scopes)
	if err != nil {
		return "", "", err
	}
	if validity == 0 {
		validity = c.opt.validity
	}
	if err := validateValidity(validity); err != nil {
		return "", "", err
	}
	id, err = newClientID()
	if err != nil {
		return "", "", err
	}
	secret, hash, err := c.newSecret()
	if err != nil {
		return "", "", err
	}
	now := c.opt.now().UTC()
	rec := clientRecord{
		ClientID:        id,
		ClientName:      name,
		SecretHash:      hash,
		Scopes:          scopes,
		Flows:           []string{FlowClientCredentials},
		ValiditySeconds: int64(validity / time.Second),
		CreatedAt:       now,
		LastModifiedAt:  now,
	}
	err = c.mutate(func(m map[string]clientRecord) error {
		if _, dup := m[id]; dup {
			return fmt.Errorf("client id collision %s", id)
		}
		m[id] = rec
		return nil
	})
	if err != nil {
		return "", "", err
	}
	c.opt.log.Info("auth: client created", "client_id", id, "client_name", name)
	return id, secret, nil
}

// Get returns the client with the given id.
func (c *ClientStore) Get(id string) (Client, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked()
	rec, ok := c.clients[id]
	if !ok {
		return Client{}, false
	}
	return rec.public(), true
}

// List returns all clients, oldest first.
func (c *ClientStore) List() []Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked()
	out := make([]Client, 0, len(c.clients))
	for _, rec := range c.clients {
		out = append(out, rec.public())
	}
	slices.SortFunc(out, func(a, b Client) int {
		if n := a.CreatedAt.Compare(b.CreatedAt); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Delete removes a client.
func (c *ClientStore) Delete(id string) error {
	err := c.mutate(func(m map[string]clientRecord) error {
		if _, ok := m[id]; !ok {
			return fmt.Errorf("%w: %s", ErrClientNotFound, id)
		}
		delete(m, id)
		return nil
	})
	if err == nil {
		c.opt.log.Info("auth: client deleted", "client_id", id)
	}
	return err
}

// RotateSecret replaces a client's secret and returns the new one; the old
// secret stops working at once.
func (c *ClientStore) RotateSecret(id string) (string, error) {
	secret, hash, err := c.newSecret()
	if err != nil {
		return "", err
	}
	now := c.opt.now().UTC()
	err = c.mutate(func(m map[string]clientRecord) error {
		rec, ok := m[id]
		if !ok {
			return fmt.Errorf("%w: %s", ErrClientNotFound, id)
		}
		rec.SecretHash = hash
		rec.LastModifiedAt = now
		m[id] = rec
		return nil
	})
	if err != nil {
		return "", err
	}
	c.opt.log.Info("auth: client secret rotated", "client_id", id)
	return secret, nil
}

// Update changes the given fields of a client.
func (c *ClientStore) Update(id string, u ClientUpdate) (Client, error) {
	if u.Name != nil {
		if err := validateName(*u.Name); err != nil {
			return Client{}, err
		}
	}
	var scopes, flows []string
	var err error
	if u.Scopes != nil {
		if scopes, err = c.normalizeScopes(u.Scopes); err != nil {
			return Client{}, err
		}
	}
	if u.Flows != nil {
		if flows, err = validateFlows(u.Flows); err != nil {
			return Client{}, err
		}
	}
	if u.TokenValidity != nil {
		if err := validateValidity(*u.TokenValidity); err != nil {
			return Client{}, err
		}
	}
	now := c.opt.now().UTC()
	var out Client
	err = c.mutate(func(m map[string]clientRecord) error {
		rec, ok := m[id]
		if !ok {
			return fmt.Errorf("%w: %s", ErrClientNotFound, id)
		}
		if u.Name != nil {
			rec.ClientName = *u.Name
		}
		if scopes != nil {
			rec.Scopes = scopes
		}
		if flows != nil {
			rec.Flows = flows
		}
		if u.TokenValidity != nil {
			rec.ValiditySeconds = int64(*u.TokenValidity / time.Second)
		}
		rec.LastModifiedAt = now
		m[id] = rec
		out = rec.public()
		return nil
	})
	return out, err
}

func (c *ClientStore) newSecret() (secret, hash string, err error) {
	secret, err = newClientSecret()
	if err != nil {
		return "", "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(secret), c.opt.cost)
	if err != nil {
		return "", "", fmt.Errorf("hash secret: %w", err)
	}
	return secret, string(h), nil
}

// normalizeScopes validates and de-duplicates scopes, keeping their order.
func (c *ClientStore) normalizeScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, errors.New("scopes: at least one scope is required")
	}
	out := make([]string, 0, len(scopes))
	for i, s := range scopes {
		if !validScopeSyntax(s) {
			return nil, fmt.Errorf("scopes[%d]: %q is not of the form resourceServerIdentifier/scopeName", i, s)
		}
		if c.opt.catalog != nil && !c.opt.catalog().has(s) {
			return nil, fmt.Errorf("scopes[%d]: %q is not defined by any resource server", i, s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// mutate applies fn to a fresh copy of the clients read under the
// cross-process lock, writes the result atomically and adopts it.
func (c *ClientStore) mutate(fn func(map[string]clientRecord) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return withLock(c.dir, func() error {
		if err := c.reloadLocked(); err != nil {
			return err
		}
		m := make(map[string]clientRecord, len(c.clients)+1)
		for k, v := range c.clients {
			m[k] = v
		}
		if err := fn(m); err != nil {
			return err
		}
		if err := c.writeLocked(m); err != nil {
			return err
		}
		c.setClientsLocked(m, c.stamp)
		return nil
	})
}

// refreshLocked reloads the file if it changed since it was last read. A
// broken file is logged and the last good contents are kept.
func (c *ClientStore) refreshLocked() {
	fi, err := os.Stat(c.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if c.stamp != nil {
			c.setClientsLocked(map[string]clientRecord{}, nil)
		}
		return
	case err != nil:
		c.opt.log.Warn("auth: stat clients file", "path", c.path, "err", err)
		return
	case c.stamp != nil && sameVersion(c.stamp, fi):
		return
	}
	if err := c.reloadLocked(); err != nil {
		c.opt.log.Warn("auth: clients file unreadable; keeping the last good copy", "path", c.path, "err", err)
		c.stamp = fi // do not retry (and log) until the file changes again
	}
}

func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// reloadLocked reads the file unconditionally.
func (c *ClientStore) reloadLocked() error {
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		c.setClientsLocked(map[string]clientRecord{}, nil)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if changed, err := tightenMode(c.path, fi); err != nil {
		return err
	} else if changed {
		c.opt.log.Warn("auth: clients file was readable by others; mode set to 0600", "path", c.path)
		if fi, err = f.Stat(); err != nil {
			return err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxClientsFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxClientsFile {
		return fmt.Errorf("%s: larger than %d bytes", c.path, maxClientsFile)
	}
	var cf clientsFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return fmt.Errorf("%s: %w", c.path, err)
	}
	m := make(map[string]clientRecord, len(cf.Clients))
	for i, rec := range cf.Clients {
		if err := rec.check(); err != nil {
			return fmt.Errorf("%s: clients[%d]: %w", c.path, i, err)
		}
		m[rec.ClientID] = rec
	}
	c.setClientsLocked(m, fi)
	return nil
}

// setClientsLocked adopts m, read from the file version stamp.
func (c *ClientStore) setClientsLocked(m map[string]clientRecord, stamp os.FileInfo) {
	c.clients, c.stamp = m, stamp
	c.usualCost = usualCost(m, c.opt.cost)
}

type clientsFile struct {
	Version int            `json:"version"`
	Clients []clientRecord `json:"clients"`
}

func (c *ClientStore) writeLocked(m map[string]clientRecord) error {
	cf := clientsFile{Version: 1, Clients: make([]clientRecord, 0, len(m))}
	for _, rec := range m {
		cf.Clients = append(cf.Clients, rec)
	}
	slices.SortFunc(cf.Clients, func(a, b clientRecord) int {
		if n := a.CreatedAt.Compare(b.CreatedAt); n != 0 {
			return n
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	data, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	fi, err := writeFileVersioned(c.path, append(data, '\n'))
	if err != nil {
		return err
	}
	c.stamp = fi
	return nil
}
