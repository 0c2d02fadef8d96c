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
