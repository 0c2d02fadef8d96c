package logbuf

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it gets.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

func TestBatchesUntilFlush(t *testing.T) {
	var s sink
	w := New(&s, 1024, time.Hour)
	for range 10 {
		w.Write([]byte("line\n"))
	}
	if got := s.get(); len(got) != 0 {
		t.Fatalf("written before a flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := s.get(); len(got) != 1 || got[0] != strings.Repeat("line\n", 10) {
		t.Fatalf("one batched write expected, got %q", got)
	}
}

func TestFlushesWhenFullWithoutSplittingWrites(t *testing.T) {
	var s sink
	w := New(&s, 16, time.Hour)
	w.Write([]byte("0123456789\n")) // 11
	w.Write([]byte("abcdefghij\n")) // would make 22 > 16: the first goes out alone
	w.Write([]byte(strings.Repeat("x", 40)))
	w.Close()
	want := []string{"0123456789\n", "abcdefghij\n", strings.Repeat("x", 40)}
	if got := s.get(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("writes %q, want %q", got, want)
	}
}

func TestFlushesAfterInterval(t *testing.T) {
	var s sink
	w := New(&s, 1024, 20*time.Millisecond)
	defer w.Close()
	w.Write([]byte("a\n"))
	deadline := time.Now().Add(5 * time.Second)
	for len(s.get()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("buffered line never flushed by the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// And again for a line written after that flush.
	w.Write([]byte("b\n"))
	for len(s.get()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("second line never flushed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseWritesThrough(t *testing.T) {
	var s sink
	w := New(&s, 1024, time.Hour)
	w.Write([]byte("a\n"))
	w.Close()
	w.Write([]byte("b\n"))
	if got := s.get(); strings.Join(got, "") != "a\nb\n" || len(got) != 2 {
		t.Fatalf("got %q", got)
	}
}
