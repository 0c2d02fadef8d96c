// Package tracetest keeps hops in memory for the tests of the components
// that record them (the gateway's trace sink, the tasks' reporter).
package tracetest

import (
	"sync"

	"github.com/portway/portway/internal/trace"
)

// Hops is a goroutine-safe list of the hops recorded.
type Hops struct {
	mu   sync.Mutex
	hops []trace.Hop
}

// Add records h (the gateway's sink).
func (l *Hops) Add(h trace.Hop) { l.Record(h) }

// Record records h (a task's reporter).
func (l *Hops) Record(h trace.Hop) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hops = append(l.hops, h)
}

// All returns a copy of the hops recorded so far, oldest first.
func (l *Hops) All() []trace.Hop {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]trace.Hop(nil), l.hops...)
}
