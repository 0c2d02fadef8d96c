//go:build !linux

package docker

import (
	"errors"
	"net"
)

// ListenInNetNS is Linux only.
func ListenInNetNS(pid int, network, addr string) (net.Listener, error) {
	return nil, errors.New("listening in a task's network namespace needs Linux")
}

// Listen is Linux only.
func (sb *sandbox) Listen(network, addr string) (net.Listener, error) {
	return ListenInNetNS(sb.pid, network, addr)
}
