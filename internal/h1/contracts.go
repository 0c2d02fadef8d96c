package h1

import "net"

// Interfaces a connection handed to this package may implement, and what
// for. The load balancer's in-process flow (package nlb) implements all of
// them, and syscall.Conn for the idle probe (see Pool.ProbeAfter); the
// implementers assert them with interface guards.

// Drainer is a connection that can tell that its peer is going away (an
// in-process load balancer flow to a draining target): a Pool starts no
// new exchange on it.
type Drainer interface{ Draining() bool }

// RawTCP is a connection whose reads and writes may go straight to an
// underlying TCP socket (an in-process load balancer flow): on Linux they
// are then made as raw system calls (see fastIO).
type RawTCP interface{ RawTCP() *net.TCPConn }

// HalfCloser is a connection that can close its sending side: a lingering
// close (ServerConn.LingerClose) half-closes, so that the client sees the
// answer end while its remaining body is read.
type HalfCloser interface{ CloseWrite() error }
