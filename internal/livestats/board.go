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

	mu sync.RWMutex
	m  map[K]*Entry
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
	return &Board[K]{cap: max(capacity, 1), overflow: overflow, m: map[K]*Entry{}}
}

// Get is k's entry, made on first use (the overflow's when the board is
// full).
func (b *Board[K]) Get(k K) *Entry {
	b.mu.RLock()
	e := b.m[k]
	b.mu.RUnlock()
	if e != nil {
		return e
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e = b.m[k]; e != nil {
		return e
	}
	if len(b.m) >= b.cap {
		k = b.overflow
		if e = b.m[k]; e != nil {
			return e
		}
	}
	e = &Entry{}
	b.m[k] = e
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
	b.mu.RLock()
	keys := make([]K, 0, len(b.m))
	entries := make([]*Entry, 0, len(b.m))
	for k, e := range b.m {
		keys = append(keys, k)
		entries = append(entries, e)
	}
	b.mu.RUnlock()
	rows := make([]Row[K], len(keys))
	for i, e := range entries {
		rows[i] = Row[K]{Key: keys[i], Summary: e.Summary(now), Note: e.Note()}
	}
	return rows
}

// Prune drops the keys idle for a whole window.
func (b *Board[K]) Prune(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, e := range b.m {
		if e.idle(now) {
			delete(b.m, k)
		}
	}
}

// Len is the number of keys held.
func (b *Board[K]) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
