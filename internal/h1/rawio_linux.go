//go:build linux

package h1

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawConn does a TCP connection's reads and writes as raw, non-blocking
// read(2) and write(2) calls through its syscall.RawConn: the runtime's
// poller still waits for readiness and deadlines still hold, but the calls
// skip the scheduler's system call bookkeeping (entersyscall/exitsyscall),
// which on a proxy's many short calls costs more than the calls
// themselves and keeps sysmon polling. The socket is non-blocking, so a
// call never blocks.
type rawConn struct {
	net.Conn
	rc syscall.RawConn

	// One read and one write at a time (as a proxy uses a connection);
	// their state lives here so that the callbacks, made once, allocate
	// nothing per call.
	rp     []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	wp      []byte
	wn      int
	werr    syscall.Errno
	writeFn func(fd uintptr) bool
}

// fastIO wraps c when it is a plain TCP connection, or says it may be used
// as one; anything else (a PROXY protocol wrapper) is returned as it is.
// Close, deadlines and addresses stay c's.
func fastIO(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if rt, isRaw := c.(RawTCP); !ok && isRaw {
		tc, ok = rt.RawTCP(), true
	}
	if !ok || tc == nil {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{Conn: c, rc: rc}
	r.readFn = r.doRead
	r.writeFn = r.doWrite
	return r
}

func (c *rawConn) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rp[0])), uintptr(len(c.rp)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until readable
		}
		c.rn, c.rerr = int(n), e
		return true
	}
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rp, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	c.rp = nil
	switch {
	case err != nil:
		return 0, err // a *net.OpError: timeout, closed
	case c.rerr != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", c.rerr)}
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

func (c *rawConn) doWrite(fd uintptr) bool {
	for c.wn < len(c.wp) {
		p := c.wp[c.wn:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			c.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until writable
		default:
			c.werr = e
			return true
		}
	}
	return true
}

func (c *rawConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wp, c.wn, c.werr = p, 0, 0
	err := c.rc.Write(c.writeFn)
	n := c.wn
	c.wp = nil
	switch {
	case err != nil:
		return n, err // a *net.OpError: timeout, closed
	case c.werr != 0:
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", c.werr)}
	}
	return n, nil
}

var _ HalfCloser = (*rawConn)(nil)

// CloseWrite half-closes, for a lingering close.
func (c *rawConn) CloseWrite() error {
	if cw, ok := c.Conn.(HalfCloser); ok {
		return cw.CloseWrite()
	}
	return nil
}
