// Package logbuf batches log output: a Writer collects lines in a buffer and
// writes them out when it fills, a short interval after the first unwritten
// line, on Flush and on Close. A busy server then costs one write(2) per
// batch instead of one per access log line (nginx's "access_log … buffer=
// flush="), and an idle one holds nothing back for longer than the interval.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Defaults for New.
const (
	DefaultSize     = 32 << 10
	DefaultInterval = 100 * time.Millisecond
)

// Writer is a buffered, interval-flushed io.Writer, safe for concurrent use.
// Each Write is kept whole: a line is never split across two flushes.
type Writer struct {
	out      io.Writer
	size     int
	interval time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer
	armed  bool
	closed bool
}

// New returns a Writer over out; size ≤ 0 and interval ≤ 0 take the defaults.
func New(out io.Writer, size int, interval time.Duration) *Writer {
	if size <= 0 {
		size = DefaultSize
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	w := &Writer{out: out, size: size, interval: interval, buf: make([]byte, 0, size)}
	w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
	w.timer.Stop()
	return w
}

// Write buffers p (or, once closed, writes it through).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.size {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= w.size {
			return w.out.Write(p)
		}
	}
	w.buf = append(w.buf, p...)
	if !w.armed {
		w.armed = true
		w.timer.Reset(w.interval)
	}
	return len(p), nil
}

// Flush writes out whatever is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.armed {
		w.armed = false
		w.timer.Stop()
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Close flushes and makes later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.flushLocked()
	w.closed = true
	return err
}
