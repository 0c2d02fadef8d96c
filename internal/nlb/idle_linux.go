//go:build linux

package nlb

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// socketIdle is how long c has neither sent nor received data, from the
// kernel's TCP_INFO; 0 when that cannot be read (the flow counts as
// active).
func socketIdle(c *net.TCPConn) time.Duration {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil {
		return 0
	}
	return time.Duration(min(info.Last_data_sent, info.Last_data_recv)) * time.Millisecond
}

// socketBytes is how many bytes c has sent (and had acknowledged) and
// received, from TCP_INFO; 0 when that cannot be read.
func socketBytes(c *net.TCPConn) int64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil {
		return 0
	}
	return int64(info.Bytes_acked + info.Bytes_received)
}
