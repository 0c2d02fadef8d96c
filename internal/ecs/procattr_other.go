//go:build unix && !linux

package ecs

import "syscall"

// sysProcAttr: no parent-death signal outside Linux; children are still
// stopped by Supervisor.Stop.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// ownPIDNamespace is not available here.
func ownPIDNamespace(*syscall.SysProcAttr) bool { return false }
