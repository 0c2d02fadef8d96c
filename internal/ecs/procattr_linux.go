package ecs

import (
	"os"
	"syscall"
)

// sysProcAttr puts a container in its own process group and has the kernel
// SIGKILL it when portway dies, however it dies. (Pdeathsig fires when the
// creating OS thread exits; the Go runtime only retires threads locked with
// runtime.LockOSThread, which the supervisor never uses.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// ownPIDNamespace gives the container a PID namespace of its own when
// portway runs as root: when the container's first process dies (its
// parent-death signal fires when portway dies), the kernel kills every
// process left in the namespace, as when a container stops. nginx needs it:
// its workers are forked by the master and outlive a SIGKILLed master.
// It reports whether it could.
func ownPIDNamespace(a *syscall.SysProcAttr) bool {
	if os.Geteuid() != 0 {
		return false
	}
	a.Cloneflags |= syscall.CLONE_NEWPID
	return true
}
