//go:build !linux

package h1

import "net"

// fastIO is a no-op off Linux.
func fastIO(c net.Conn) net.Conn { return c }
