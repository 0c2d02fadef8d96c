//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package auth

import "os"

// On platforms without flock, writers in one process are still serialized by
// the store's mutex; concurrent writers in different processes may race.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
