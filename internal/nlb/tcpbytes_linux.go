//go:build linux

package nlb

import (
	"net"

	"golang.org/x/sys/unix"
)

// Linux TCP states (include/net/tcp_states.h).
const (
	tcpFinWait2  = 5
	tcpTimeWait  = 6
	tcpClose     = 7
	tcpCloseWait = 8
	tcpLastAck   = 9
	tcpClosing   = 11
)

// tcpBytes reads a socket's payload byte counters: sent (and
// acknowledged) and received. The kernel counts sequence space, where
// the SYN and each FIN take one: they are taken off. A closed socket
// (TCP_CLOSE: its TIME_WAIT has moved on) is taken to have closed in
// order, both FINs exchanged; one that was reset may be counted a byte
// short each way.
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
	sent, received = info.Bytes_acked, info.Bytes_received
	sent = sub1(sent) // our SYN, acknowledged by the peer's SYN-ACK
	switch info.State {
	case tcpFinWait2, tcpTimeWait, tcpClose: // our FIN acknowledged
		sent = sub1(sent)
	}
	switch info.State {
	case tcpCloseWait, tcpLastAck, tcpClosing, tcpTimeWait, tcpClose: // the peer's FIN received
		received = sub1(received)
	}
	return sent, received, true
}

func sub1(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	return n - 1
}
