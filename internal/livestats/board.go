package livestats

import (
	"sync"
	"time"
)

// Board maps keys to series, at most Cap of them; a new key past that
// shares the overflow series (Overflow). Safe for concurrent use.
type Board[K comparable] struct {
	cap      int
	overflow K

	m  sync.Map   // K → *Entry: reads take no lock and write no shared memory
	mu sync.Mutex // serializes adding and pruning keys
	n  int        // keys held, under mu
}

// Entry is a key's series and the latest note recorded with it (for a
// client: the reason its last token was refused).
type Entry struct {
	Series
	noteMu sync.Mutex
	note   string
}

// Note is the latest note recorded with the entry.
func (e *Entry) Note() string {
	e.noteMu.Lock()
	defer e.noteMu.Unlock()
	return e.note
}

// NewBoard keeps up to capacity keys (at least 1), with overflow the key
// of the series the rest share.
func NewBoard[K comparable](capacity int, overflow K) *Board[K] {
	return &Board[K]{cap: max(capacity, 1), overflow: overflow}
}

// Get is k's entry, made on first use (the overflow's when the board is
// full).
func (b *Board[K]) Get(k K) *Entry {
	if e, ok := b.m.Load(k); ok {
		return e.(*Entry)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.m.Load(k); ok {
		return e.(*Entry)
	}
	if b.n >= b.cap {
		k = b.overflow
		if e, ok := b.m.Load(k); ok {
			return e.(*Entry)
		}
	}
	e := &Entry{}
	b.m.Store(k, e)
	b.n++
	return e
}

// Record counts a request under k; a non-empty note replaces k's note.
func (b *Board[K]) Record(k K, now time.Time, d time.Duration, status int, note string) {
	e := b.Get(k)
	e.Record(now, d, status)
	if note != "" {
		e.noteMu.Lock()
		e.note = note
		e.noteMu.Unlock()
	}
}

// Row is a key's summary and note.
type Row[K comparable] struct {
	Key     K
	Summary Summary
	Note    string
}

// Rows summarizes every key at now, in no particular order.
func (b *Board[K]) Rows(now time.Time) []Row[K] {
	var keys []K
	var entries []*Entry
	b.m.Range(func(k, e any) bool {
		keys = append(keys, k.(K))
		entries = append(entries, e.(*Entry))
		return true
	})
	rows := make([]Row[K], len(keys))
	for i, e := range entries {
		rows[i] = Row[K]{Key: keys[i], Summary: e.Summary(now), Note: e.Note()}
	}
	return rows
}

// Prune drops the keys idle for a whole window. A request recorded under
// a key at the moment it is dropped may be lost with it: it would have
// been the first in a minute.
func (b *Board[K]) Prune(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m.Range(func(k, e any) bool {
		if e.(*Entry).idle(now) {
			b.m.Delete(k)
			b.n--
		}
		return true
	})
}

// Len is the number of keys held.
func (b *Board[K]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}
