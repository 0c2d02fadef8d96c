//go:build !linux

package nlb

import (
	"net"
	"time"
)

// socketIdle cannot ask the kernel here: in-process flows count as active
// and end when their owner closes them.
func socketIdle(*net.TCPConn) time.Duration { return 0 }

// socketBytes is unknown here.
func socketBytes(*net.TCPConn) int64 { return 0 }
