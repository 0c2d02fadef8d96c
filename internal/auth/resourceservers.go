package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// ErrResourceServerExists is returned when a resource server's identifier
// is taken.
var ErrResourceServerExists = errors.New("resource server already exists")

// ErrResourceServerInvalid wraps a resource server that breaks Cognito's
// rules (identifier, name, scopes).
var ErrResourceServerInvalid = errors.New("invalid resource server")

const (
	resourceServersFileName = "resource-servers.json"
	maxResourceServersFile  = 1 << 20
	// maxResourceServers and maxScopesPerServer are Cognito's quotas
	// (25 resource servers per pool, 100 scopes per resource server).
	maxResourceServers = 25
	maxScopesPerServer = 100
)

// ScopeInfo is a scope of a resource server, with its description.
type ScopeInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ResourceServerInfo is a resource server as Cognito's API shows it. Those
// of the stack config (Configured) have no descriptions and their
// identifier as their name; those created at runtime
// (Server.CreateResourceServer) are kept in <state>/auth/resource-servers.json.
type ResourceServerInfo struct {
	Identifier string      `json:"identifier"`
	Name       string      `json:"name"`
	Scopes     []ScopeInfo `json:"scopes"`
	CreatedAt  time.Time   `json:"created_at"`
	Configured bool        `json:"-"`
}

// resourceServerStore is the file of runtime-created resource servers,
// reloaded when another process changes it.
type resourceServerStore struct {
	dir, path string

	mu    sync.Mutex
	list  []ResourceServerInfo
	stamp os.FileInfo
	// catalog is built from the configured servers and list.
	configured []ResourceServer
	catalog    *scopeCatalog
}

func newResourceServerStore(dir string, configured []ResourceServer) (*resourceServerStore, error) {
	s := &resourceServerStore{dir: dir, path: filepath.Join(dir, resourceServersFileName), configured: configured}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// refreshLocked reloads the file when it changed; a broken file keeps the
// last good list.
func (s *resourceServerStore) refreshLocked() {
	fi, err := os.Stat(s.path)
	if err == nil && s.stamp != nil && sameVersion(s.stamp, fi) {
		return
	}
	if errors.Is(err, os.ErrNotExist) && s.stamp == nil {
		return
	}
	if err := s.reloadLocked(); err != nil {
		s.stamp = fi
	}
}

func (s *resourceServerStore) reloadLocked() error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.setLocked(nil, nil)
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
	data, err := io.ReadAll(io.LimitReader(f, maxResourceServersFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxResourceServersFile {
		return fmt.Errorf("%s: larger than %d bytes", s.path, maxResourceServersFile)
	}
	var file struct {
		ResourceServers []ResourceServerInfo `json:"resource_servers"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	s.setLocked(file.ResourceServers, fi)
	return nil
}

func (s *resourceServerStore) setLocked(list []ResourceServerInfo, stamp os.FileInfo) {
	s.list, s.stamp = list, stamp
	rss := slices.Clone(s.configured)
	for _, rs := range list {
		r := ResourceServer{Identifier: rs.Identifier}
		for _, sc := range rs.Scopes {
			r.Scopes = append(r.Scopes, sc.Name)
		}
		rss = append(rss, r)
	}
	s.catalog = newScopeCatalog(rss)
}

// scopes is the catalog of every resource server's scopes.
func (s *resourceServerStore) scopes() *scopeCatalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	return s.catalog
}

// all lists the configured resource servers, then the created ones.
func (s *resourceServerStore) all() []ResourceServerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked()
	out := make([]ResourceServerInfo, 0, len(s.configured)+len(s.list))
	for _, rs := range s.configured {
		info := ResourceServerInfo{Identifier: rs.Identifier, Name: rs.Identifier, Scopes: []ScopeInfo{}, Configured: true}
		for _, sc := range rs.Scopes {
			info.Scopes = append(info.Scopes, ScopeInfo{Name: sc})
		}
		out = append(out, info)
	}
	for _, rs := range s.list {
		rs.Scopes = slices.Clone(rs.Scopes)
		out = append(out, rs)
	}
	return out
}

// create validates rs and adds it to the file.
func (s *resourceServerStore) create(rs ResourceServerInfo, now time.Time) (ResourceServerInfo, error) {
	if rs.Name == "" {
		rs.Name = rs.Identifier
	}
	if !clientNameRe().MatchString(rs.Name) {
		return ResourceServerInfo{}, fmt.Errorf("%w: name: %q must be 1-128 characters of letters, digits, spaces and +=,.@_-", ErrResourceServerInvalid, rs.Name)
	}
	if len(rs.Scopes) > maxScopesPerServer {
		return ResourceServerInfo{}, fmt.Errorf("%w: scopes: at most %d", ErrResourceServerInvalid, maxScopesPerServer)
	}
	plain := ResourceServer{Identifier: rs.Identifier}
	for i, sc := range rs.Scopes {
		if len(sc.Description) < 1 || len(sc.Description) > 256 {
			return ResourceServerInfo{}, fmt.Errorf("%w: scopes[%d].description: must be 1-256 characters", ErrResourceServerInvalid, i)
		}
		plain.Scopes = append(plain.Scopes, sc.Name)
	}
	if err := validateResourceServers([]ResourceServer{plain}); err != nil {
		return ResourceServerInfo{}, fmt.Errorf("%w: %w", ErrResourceServerInvalid, err)
	}
	rs.Scopes = slices.Clone(rs.Scopes)
	if rs.Scopes == nil {
		rs.Scopes = []ScopeInfo{}
	}
	rs.CreatedAt, rs.Configured = now.UTC(), false
	s.mu.Lock()
	defer s.mu.Unlock()
	err := withLock(s.dir, func() error {
		if err := s.reloadLocked(); err != nil {
			return err
		}
		taken := slices.ContainsFunc(s.configured, func(c ResourceServer) bool { return c.Identifier == rs.Identifier }) ||
			slices.ContainsFunc(s.list, func(c ResourceServerInfo) bool { return c.Identifier == rs.Identifier })
		if taken {
			return fmt.Errorf("%w: %s", ErrResourceServerExists, rs.Identifier)
		}
		if len(s.configured)+len(s.list) >= maxResourceServers {
			return fmt.Errorf("%w: a user pool has at most %d resource servers", ErrResourceServerInvalid, maxResourceServers)
		}
		list := append(slices.Clone(s.list), rs)
		data, err := json.MarshalIndent(struct {
			Version         int                  `json:"version"`
			ResourceServers []ResourceServerInfo `json:"resource_servers"`
		}{1, list}, "", "  ")
		if err != nil {
			return err
		}
		fi, err := writeFileVersioned(s.path, append(data, '\n'))
		if err != nil {
			return err
		}
		s.setLocked(list, fi)
		return nil
	})
	if err != nil {
		return ResourceServerInfo{}, err
	}
	return rs, nil
}

// ResourceServers lists the user pool's resource servers: the stack
// config's, then those created at runtime.
func (s *Server) ResourceServers() []ResourceServerInfo { return s.resourceServers.all() }

// CreateResourceServer adds a resource server (Cognito
// CreateResourceServer); its scopes can be granted to clients and asked
// for at the token endpoint at once, in this process and in others that
// open the same state dir.
func (s *Server) CreateResourceServer(rs ResourceServerInfo) (ResourceServerInfo, error) {
	out, err := s.resourceServers.create(rs, s.now())
	if err == nil {
		s.log.Info("auth: resource server created", "identifier", out.Identifier, "scopes", len(out.Scopes))
	}
	return out, err
}

// CreatedResourceServers reads the resource servers created at runtime
// (CreateResourceServer) in the state dir's auth/resource-servers.json, for
// tools that check scopes while the stack runs or not (portway clients
// create). None is no error.
func CreatedResourceServers(stateDir string) ([]ResourceServer, error) {
	s := &resourceServerStore{dir: filepath.Join(stateDir, authDirName)}
	s.path = filepath.Join(s.dir, resourceServersFileName)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(); err != nil {
		return nil, err
	}
	out := make([]ResourceServer, 0, len(s.list))
	for _, rs := range s.list {
		r := ResourceServer{Identifier: rs.Identifier}
		for _, sc := range rs.Scopes {
			r.Scopes = append(r.Scopes, sc.Name)
		}
		out = append(out, r)
	}
	return out, nil
}
