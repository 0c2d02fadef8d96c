//go:build unix

package h1

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// peerOpen reports whether an idle connection's peer has neither closed it
// nor sent anything unasked, with one non-blocking MSG_PEEK receive.
func peerOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// A deadline left from the last exchange may have passed; the probe
	// must not fail on it.
	_ = c.SetReadDeadline(time.Time{})
	open := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		// Nothing to read is the one good answer: 0 bytes is the peer's
		// close, bytes are something it sent unasked.
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && open
}
