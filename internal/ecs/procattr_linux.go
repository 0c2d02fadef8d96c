package ecs

import "syscall"

// sysProcAttr puts a container in its own process group and has the kernel
// SIGKILL it when portway dies, however it dies. (Pdeathsig fires when the
// creating OS thread exits; the Go runtime only retires threads locked with
// runtime.LockOSThread, which the supervisor never uses.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
