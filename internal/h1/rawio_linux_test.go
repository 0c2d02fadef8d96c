//go:build linux

package h1

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns two connected loopback TCP connections.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// TestFastIOBulkBothWays: 8 MiB each way through raw I/O, more than the
// socket buffers hold, so writes wait for the peer (EAGAIN) and resume.
func TestFastIOBulkBothWays(t *testing.T) {
	a, b := tcpPair(t)
	fa, fb := fastIO(a), fastIO(b)
	if _, ok := fa.(*rawConn); !ok {
		t.Fatalf("fastIO(%T) did not wrap a TCP connection", a)
	}
	payload := make([]byte, 8<<20)
	_, _ = rand.Read(payload)
	errc := make(chan error, 1)
	go func() {
		_, err := fa.Write(payload)
		errc <- err
	}()
	_ = b.SetDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(fb, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("bytes changed on the way")
	}
}

func TestFastIODeadlineEOFAndClose(t *testing.T) {
	a, b := tcpPair(t)
	fa := fastIO(a)
	buf := make([]byte, 16)

	_ = a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := fa.Read(buf); !IsTimeout(err) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = a.SetReadDeadline(time.Time{})

	if _, err := b.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if n, err := fa.Read(buf); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	b.Close()
	if _, err := fa.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the peer's close: %v, want io.EOF", err)
	}
	a.Close()
	if _, err := fa.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
}

// rawFlow stands for an in-process load balancer flow: a wrapper that lets
// its socket be used directly.
type rawFlow struct{ *net.TCPConn }

func (f rawFlow) RawTCP() *net.TCPConn { return f.TCPConn }

type wrapped struct{ net.Conn }

func TestFastIOWrapsOnlyWhatItMay(t *testing.T) {
	a, _ := tcpPair(t)
	if _, ok := fastIO(rawFlow{a}).(*rawConn); !ok {
		t.Error("a connection offering RawTCP was not wrapped")
	}
	w := wrapped{a}
	if fastIO(w) != net.Conn(w) {
		t.Error("an opaque wrapper (a PROXY protocol connection, say) was bypassed")
	}
}
