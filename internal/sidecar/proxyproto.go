package sidecar

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/portway/portway/internal/h1"
)

// PROXY protocol (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt):
// version 1 is one text line, version 2 a binary header. The load balancer
// sends version 2; version 1 is accepted too, as nginx's proxy_protocol does.
const (
	// DefaultProxyHeaderTimeout bounds the wait for a connection's PROXY header.
	DefaultProxyHeaderTimeout = 5 * time.Second

	maxV1Line    = 107  // the longest valid v1 line, CRLF included (spec 2.1)
	maxV2Payload = 4096 // addresses + TLVs; longer headers are refused
	v2HeadSize   = 16
)

var v2Signature = []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// errNoProxyHeader is returned for a connection that does not start with a
// PROXY protocol header.
var errNoProxyHeader = errors.New("no PROXY protocol header")

// proxyHeader is a parsed PROXY protocol header.
type proxyHeader struct {
	version int
	// conveyed: src and dst carry the original connection (command PROXY
	// over TCP). Otherwise (LOCAL, UNKNOWN, UNSPEC, UDP, UNIX) the real
	// connection's addresses apply.
	conveyed bool
	src, dst netip.AddrPort
	size     int // bytes of the header, TLVs included
}

// parseProxyHeader reads one PROXY header (v1 or v2) from r and nothing
// more: what follows stays in r. It reads at most 107 bytes for v1 and
// 16+4096 for v2.
func parseProxyHeader(r *bufio.Reader) (proxyHeader, error) {
	first, err := r.Peek(1)
	if err != nil {
		return proxyHeader{}, fmt.Errorf("reading PROXY header: %w", err)
	}
	switch first[0] {
	case v2Signature[0]:
		return parseV2(r)
	case 'P':
		return parseV1(r)
	}
	return proxyHeader{}, errNoProxyHeader
}

func parseV2(r *bufio.Reader) (proxyHeader, error) {
	head, err := r.Peek(v2HeadSize)
	if err != nil {
		if !bytes.HasPrefix(head, v2Signature[:min(len(head), len(v2Signature))]) {
			return proxyHeader{}, errNoProxyHeader
		}
		return proxyHeader{}, fmt.Errorf("reading PROXY v2 header: %w", eofIsUnexpected(err))
	}
	if !bytes.Equal(head[:12], v2Signature) {
		return proxyHeader{}, errNoProxyHeader
	}
	verCmd, fam := head[12], head[13]
	n := int(binary.BigEndian.Uint16(head[14:16]))
	if verCmd>>4 != 2 {
		return proxyHeader{}, fmt.Errorf("PROXY v2: unsupported version %d", verCmd>>4)
	}
	cmd := verCmd & 0x0F
	if cmd > 1 {
		return proxyHeader{}, fmt.Errorf("PROXY v2: unknown command %#x", cmd)
	}
	if n > maxV2Payload {
		return proxyHeader{}, fmt.Errorf("PROXY v2: header of %d bytes is over the %d-byte limit", n, maxV2Payload)
	}
	var addrLen int
	switch fam {
	case 0x00: // UNSPEC
	case 0x11, 0x12: // INET STREAM, DGRAM
		addrLen = 12
	case 0x21, 0x22: // INET6
		addrLen = 36
	case 0x31, 0x32: // UNIX
		addrLen = 216
	default:
		return proxyHeader{}, fmt.Errorf("PROXY v2: unknown address family/protocol %#x", fam)
	}
	if cmd == 1 && n < addrLen {
		return proxyHeader{}, fmt.Errorf("PROXY v2: %d address bytes, family %#x needs %d", n, fam, addrLen)
	}
	if _, err := r.Discard(v2HeadSize); err != nil {
		return proxyHeader{}, err
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return proxyHeader{}, fmt.Errorf("reading PROXY v2 addresses: %w", eofIsUnexpected(err))
	}
	h := proxyHeader{version: 2, size: v2HeadSize + n}
	if cmd == 0 { // LOCAL: the sender's own connection (health checks)
		return h, nil
	}
	switch fam {
	case 0x11, 0x21:
		if err := checkTLVs(payload[addrLen:]); err != nil {
			return proxyHeader{}, err
		}
	}
	switch fam {
	case 0x11:
		h.conveyed = true
		h.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[0:4])), binary.BigEndian.Uint16(payload[8:10]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(payload[4:8])), binary.BigEndian.Uint16(payload[10:12]))
	case 0x21:
		h.conveyed = true
		h.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(payload[0:16])).Unmap(), binary.BigEndian.Uint16(payload[32:34]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(payload[16:32])).Unmap(), binary.BigEndian.Uint16(payload[34:36]))
	}
	return h, nil
}

// checkTLVs checks that b is a well-formed sequence of type-length-value
// records (their contents are not used).
func checkTLVs(b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return fmt.Errorf("PROXY v2: truncated TLV")
		}
		l := int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+l {
			return fmt.Errorf("PROXY v2: TLV %#x of %d bytes overruns the header", b[0], l)
		}
		b = b[3+l:]
	}
	return nil
}

func parseV1(r *bufio.Reader) (proxyHeader, error) {
	var line []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return proxyHeader{}, fmt.Errorf("reading PROXY v1 header: %w", eofIsUnexpected(err))
		}
		line = append(line, c)
		if len(line) <= 6 && !bytes.HasPrefix([]byte("PROXY "), line) {
			return proxyHeader{}, errNoProxyHeader
		}
		if c == '\n' {
			break
		}
		if len(line) >= maxV1Line {
			return proxyHeader{}, fmt.Errorf("PROXY v1: no CRLF within %d bytes", maxV1Line)
		}
	}
	size := len(line)
	if !bytes.HasSuffix(line, []byte("\r\n")) {
		return proxyHeader{}, errors.New("PROXY v1: line does not end with CRLF")
	}
	f := strings.Split(string(line[:size-2]), " ")
	h := proxyHeader{version: 1, size: size}
	switch {
	case len(f) >= 2 && f[1] == "UNKNOWN":
		return h, nil // the rest of the line is ignored (spec 2.1)
	case len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6"):
		return proxyHeader{}, fmt.Errorf("PROXY v1: malformed line %q", line[:size-2])
	}
	src, err1 := netip.ParseAddr(f[2])
	dst, err2 := netip.ParseAddr(f[3])
	sport, err3 := parsePort(f[4])
	dport, err4 := parsePort(f[5])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return proxyHeader{}, fmt.Errorf("PROXY v1: %w", err)
	}
	want4 := f[1] == "TCP4"
	if src.Zone() != "" || dst.Zone() != "" || src.Is4() != want4 || dst.Is4() != want4 {
		return proxyHeader{}, fmt.Errorf("PROXY v1: addresses %s and %s are not %s", src, dst, f[1])
	}
	h.conveyed = true
	h.src = netip.AddrPortFrom(src.Unmap(), sport)
	h.dst = netip.AddrPortFrom(dst.Unmap(), dport)
	return h, nil
}

// parsePort parses a decimal port: 1 to 5 digits, no sign, at most 65535.
func parsePort(s string) (uint16, error) {
	if len(s) == 0 || len(s) > 5 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad port %q", s)
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ProxyListener wraps ln so that every accepted connection must start with
// a PROXY protocol header (v2, or v1 text); its RemoteAddr is then the
// address the header conveys (for LOCAL or UNKNOWN headers, such as health
// checks send, the real peer's). The header is read on the connection's
// first Read or RemoteAddr call, not in Accept, within timeout (0:
// DefaultProxyHeaderTimeout) and at most 4 KiB; a connection without a valid
// header is closed and its reads fail.
func ProxyListener(ln net.Listener, timeout time.Duration, log *slog.Logger) net.Listener {
	if timeout <= 0 {
		timeout = DefaultProxyHeaderTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &proxyListener{Listener: ln, timeout: timeout, log: log}
}

type proxyListener struct {
	net.Listener
	timeout time.Duration
	log     *slog.Logger
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxyConn{Conn: c, timeout: l.timeout, log: l.log}, nil
}

// proxyConn is an accepted connection whose PROXY header is read lazily.
type proxyConn struct {
	net.Conn
	timeout time.Duration
	log     *slog.Logger

	once   sync.Once
	err    error         // the header was missing or invalid
	remote net.Addr      // conveyed or real peer address
	br     *bufio.Reader // holds bytes read past the header

	dmu          sync.Mutex
	readDeadline time.Time // the deadline the user set, restored after the header
}

func (c *proxyConn) readHeader() {
	c.once.Do(func() {
		c.remote = c.Conn.RemoteAddr()
		c.dmu.Lock()
		user := c.readDeadline
		c.dmu.Unlock()
		deadline := time.Now().Add(c.timeout)
		if !user.IsZero() && user.Before(deadline) {
			deadline = user
		}
		_ = c.Conn.SetReadDeadline(deadline)
		br := bufio.NewReaderSize(c.Conn, 512)
		h, err := parseProxyHeader(br)
		c.dmu.Lock()
		_ = c.Conn.SetReadDeadline(c.readDeadline)
		c.dmu.Unlock()
		if err != nil {
			c.err = fmt.Errorf("sidecar: PROXY protocol: %w", err)
			c.log.Warn("connection refused: no valid PROXY protocol header", "peer", c.remote.String(), "err", err)
			_ = c.Conn.Close()
			return
		}
		c.br = br
		if h.conveyed {
			c.remote = net.TCPAddrFromAddrPort(h.src)
		}
		c.log.Debug("PROXY header", "version", h.version, "peer", c.Conn.RemoteAddr().String(),
			"client", c.remote.String(), "conveyed", h.conveyed)
	})
}

func (c *proxyConn) Read(p []byte) (int, error) {
	c.readHeader()
	if c.err != nil {
		return 0, c.err
	}
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil // drained: read straight from the socket from now on
	}
	return c.Conn.Read(p)
}

var _ h1.HalfCloser = (*proxyConn)(nil)

// CloseWrite half-closes the connection, for a lingering close.
func (c *proxyConn) CloseWrite() error {
	if cw, ok := c.Conn.(h1.HalfCloser); ok {
		return cw.CloseWrite()
	}
	return nil
}

// RemoteAddr is the client address the PROXY header conveyed.
func (c *proxyConn) RemoteAddr() net.Addr {
	c.readHeader()
	return c.remote
}

func (c *proxyConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.readDeadline = t
	return c.Conn.SetReadDeadline(t)
}

func (c *proxyConn) SetDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.readDeadline = t
	return c.Conn.SetDeadline(t)
}
