//go:build !linux

package nlb

import "net"

// tcpBytes is not available: no byte counts.
func tcpBytes(*net.TCPConn) (sent, received uint64, ok bool) { return 0, 0, false }
