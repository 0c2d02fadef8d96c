// Package rotate is a log file capped by size: when a write would take it
// past its limit, it is renamed to <path>.1 (older ones to .2, … up to the
// number kept; the oldest goes) and a fresh file is started. A write is
// never split over two files. Buffered adds a write buffer flushed
// periodically, for files written on a hot path (the access log).
package rotate

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// File is a size-capped log file; safe for concurrent use.
type File struct {
	path string
	max  int64
	keep int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (appends to) path, capped at max bytes (> 0), keeping keep
// (≥ 1) rotated files beside it.
func Open(path string, max int64, keep int) (*File, error) {
	if max <= 0 || keep < 1 {
		return nil, errors.New("rotate: max must be > 0 and keep ≥ 1")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{path: path, max: max, keep: keep, f: f, size: st.Size()}, nil
}

// Write writes p to the current file, rotating first when p would take
// it past the cap (a p larger than the cap gets a file of its own).
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("rotate %s: %w", l.path, err)
	}
	l.f = nil
	for i := l.keep - 1; i >= 1; i-- {
		from := l.path + "." + strconv.Itoa(i)
		if err := os.Rename(from, l.path+"."+strconv.Itoa(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", l.path, err)
		}
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("rotate %s: %w", l.path, err)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", l.path, err)
	}
	l.f, l.size = f, 0
	return nil
}

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Buffered buffers writes to a File (64 KiB) and flushes them every
// interval, when the buffer fills and on Close. Each Write goes whole
// into one file (lines are not split). Lines written in the last
// interval are lost if the process dies.
type Buffered struct {
	mu   sync.Mutex
	file *File
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// bufferSize is Buffered's buffer.
const bufferSize = 64 << 10

// NewBuffered buffers writes to f, flushing every interval (default 1s).
func NewBuffered(f *File, interval time.Duration) *Buffered {
	if interval <= 0 {
		interval = time.Second
	}
	b := &Buffered{file: f, stop: make(chan struct{}), done: make(chan struct{})}
	b.w = bufio.NewWriterSize(lineWriter{b}, bufferSize)
	go b.loop(interval)
	return b
}

// lineWriter hands the buffer to the File in whole writes only: bufio
// writes a full buffer in one call, and Write flushes before a line that
// would not fit.
type lineWriter struct{ b *Buffered }

func (w lineWriter) Write(p []byte) (int, error) { return w.b.file.Write(p) }

func (b *Buffered) loop(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write buffers p (one line, say).
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.w.Available() && b.w.Buffered() > 0 {
		if err := b.w.Flush(); err != nil {
			return 0, err
		}
	}
	if len(p) > b.w.Available() {
		return b.file.Write(p) // larger than the buffer: straight through
	}
	return b.w.Write(p)
}

// Flush writes what is buffered.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// Close flushes and closes the file.
func (b *Buffered) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	err := b.Flush()
	return errors.Join(err, b.file.Close())
}
