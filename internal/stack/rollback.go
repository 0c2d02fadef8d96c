package stack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A start that fails leaves the state dir as it found it: stateSnapshot
// remembers what the dir held, two levels deep (auth/keys.json,
// tasks/<id>, clients/<name>.json, tls/ca.pem, storage.db, …), before the
// start writes anything, and restore removes what the start made since,
// and the directories it made to hold the state dir. endpoints.json, which
// a start removes as stale at once, is written back. Files that existed
// keep their place; the start changes none of them before it has bound
// every listener, except as the components' own loading does (a client's
// scopes following the config).
type stateSnapshot struct {
	dir     string
	created []string // directories MkdirAll made, the state dir last
	entries map[string]bool
	// endpoints is endpoints.json as found (nil: there was none).
	endpoints     []byte
	endpointsMode os.FileMode
}

// snapshotState records dir before a start; dir need not exist.
func snapshotState(dir string) (*stateSnapshot, error) {
	s := &stateSnapshot{dir: dir, entries: map[string]bool{}}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		s.created = append([]string{d}, s.created...)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(s.created) > 0 {
		return s, nil
	}
	if err := s.walk(func(rel string) { s.entries[rel] = true }); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, EndpointsFile)
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		if data, err := os.ReadFile(path); err == nil {
			s.endpoints, s.endpointsMode = data, fi.Mode().Perm()
		}
	}
	return s, nil
}

// walk calls fn with every entry's path relative to the state dir, two
// levels deep, parents first.
func (s *stateSnapshot) walk(fn func(rel string)) error {
	top, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range top {
		fn(e.Name())
		if !e.IsDir() {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(s.dir, e.Name()))
		if err != nil {
			continue
		}
		for _, c := range sub {
			fn(e.Name() + "/" + c.Name())
		}
	}
	return nil
}

// restore removes what was made since the snapshot, except the entries
// keep names (and what is inside them), and writes endpoints.json back.
func (s *stateSnapshot) restore(keep func(rel string) bool) error {
	var errs []error
	removed := map[string]bool{}
	err := s.walk(func(rel string) {
		if s.entries[rel] || (keep != nil && keep(rel)) {
			return
		}
		if parent, _, ok := strings.Cut(rel, "/"); ok && removed[parent] {
			return
		}
		if err := os.RemoveAll(filepath.Join(s.dir, filepath.FromSlash(rel))); err != nil {
			errs = append(errs, err)
			return
		}
		removed[rel] = true
	})
	if err != nil {
		errs = append(errs, err)
	}
	if s.endpoints != nil {
		path := filepath.Join(s.dir, EndpointsFile)
		if err := os.WriteFile(path, s.endpoints, s.endpointsMode); err != nil {
			errs = append(errs, err)
		} else if err := os.Chmod(path, s.endpointsMode); err != nil {
			errs = append(errs, err)
		}
	}
	s.removeCreatedDirs()
	return errors.Join(errs...)
}

// removeCreatedDirs removes the directories made to hold the state dir,
// the state dir first, as far as they are empty.
func (s *stateSnapshot) removeCreatedDirs() {
	for i := len(s.created) - 1; i >= 0; i-- {
		if err := os.Remove(s.created[i]); err != nil {
			return // not empty: something is kept
		}
	}
}
