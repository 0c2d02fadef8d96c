package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/portway/portway/internal/atomicfile"
)

const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
	lockName             = ".lock"
)

// authDir returns <stateDir>/auth, created with mode 0700 (tightened if it
// already exists).
// authDirName is the auth component's directory in the state dir.
const authDirName = "auth"

func ensureAuthDir(stateDir string) (string, error) {
	dir := filepath.Join(stateDir, authDirName)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return "", fmt.Errorf("chmod %s: %w", dir, err)
	}
	return dir, nil
}

// tightenMode makes sure a secret file is not readable by group or others.
// It reports whether the mode had to be changed.
func tightenMode(path string, fi os.FileInfo) (bool, error) {
	if fi.Mode().Perm()&0o077 == 0 {
		return false, nil
	}
	if err := os.Chmod(path, fileMode); err != nil {
		return false, fmt.Errorf("chmod %s: %w", path, err)
	}
	return true, nil
}

// withLock runs fn while holding an exclusive advisory lock on dir/.lock,
// serializing read-modify-write cycles between processes.
func withLock(dir string, fn func() error) error {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("open lock %s: %w", path, err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer unlockFile(f)
	return fn()
}

// writeFileVersioned writes a state file atomically, making its mtime
// strictly greater than the previous version's, and returns the new file's
// info. Readers in other processes detect changes by file identity, size
// and mtime; the kernel's file timestamps are coarse and inode numbers get
// reused, so a strictly increasing mtime is what makes every write visible.
func writeFileVersioned(path string, data []byte) (os.FileInfo, error) {
	mtime := time.Now()
	if prev, err := os.Stat(path); err == nil && !mtime.After(prev.ModTime()) {
		mtime = prev.ModTime().Add(time.Microsecond)
	}
	if err := atomicfile.WriteWith(path, data, fileMode, atomicfile.Options{ModTime: mtime}); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return fi, nil
}
