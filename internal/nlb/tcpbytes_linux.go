//go:build linux

package nlb

import (
	"net"

	"golang.org/x/sys/unix"
)

// tcpBytes reads a socket's byte counters: sent and acknowledged, and
// received.
func tcpBytes(c *net.TCPConn) (sent, received uint64, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil {
		return 0, 0, false
	}
	return info.Bytes_acked, info.Bytes_received, true
}
