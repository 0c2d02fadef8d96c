// Package bufpool lends httputil.ReverseProxy its body copy buffers, so
// that a proxied request does not allocate (and the GC does not sweep) a
// fresh 32 KiB buffer. The gateway and the sidecar share it.
package bufpool

import (
	"net/http/httputil"
	"sync"
)

// Size is the size of every buffer the pool lends.
const Size = 32 << 10

type pool struct{ p sync.Pool }

// New returns an empty pool of Size-byte buffers.
func New() httputil.BufferPool {
	return &pool{p: sync.Pool{New: func() any {
		b := make([]byte, Size)
		return &b
	}}}
}

func (bp *pool) Get() []byte { return *(bp.p.Get().(*[]byte)) }

// Put takes back a buffer of the pool's size; anything else is dropped.
func (bp *pool) Put(b []byte) {
	if cap(b) != Size {
		return
	}
	b = b[:Size]
	bp.p.Put(&b)
}
