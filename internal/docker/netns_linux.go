package docker

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ListenInNetNS opens a listener inside the network namespace of process
// pid (e.g. a task's pause container: its apps then reach the listener at
// addr, such as 169.254.170.2:80 once that address is on the namespace's
// interface, or 127.0.0.1:PORT). It switches one locked OS thread into the
// namespace for the socket(2) and bind(2) calls and back; the socket stays
// in the namespace it was made in. Needs CAP_SYS_ADMIN (root) and the
// engine on this host.
func ListenInNetNS(pid int, network, addr string) (net.Listener, error) {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("network namespace of pid %d: %w", pid, err)
	}
	defer target.Close()

	runtime.LockOSThread()
	own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("own network namespace: %w", err)
	}
	defer own.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter the network namespace of pid %d: %w", pid, err)
	}
	ln, lerr := net.Listen(network, addr)
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the other namespace: leave it locked,
		// so the runtime retires it with this goroutine.
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("return from the network namespace of pid %d: %w", pid, err)
	}
	runtime.UnlockOSThread()
	if lerr != nil {
		return nil, fmt.Errorf("listen in the network namespace of pid %d: %w", pid, lerr)
	}
	return ln, nil
}

// Listen opens a listener inside the task's network namespace (see
// ListenInNetNS).
func (sb *sandbox) Listen(network, addr string) (net.Listener, error) {
	if sb.pid <= 0 {
		return nil, fmt.Errorf("the task's network namespace has no known process")
	}
	return ListenInNetNS(sb.pid, network, addr)
}
