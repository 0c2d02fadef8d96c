package trace

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync"
)

// Default bounds of a Store.
const (
	// DefaultTraces is how many traces a Store keeps: the oldest goes
	// when a new one comes.
	DefaultTraces = 10000
	// MaxHopsPerTrace bounds the hops kept of one trace (retries, a
	// client reusing a trace id): later ones are dropped.
	MaxHopsPerTrace = 8
)

// Store keeps the hops of the most recent traces in a ring of fixed size,
// found by trace id or by the gateway's request id. It is safe for
// concurrent use; Add is cheap (a lock, a map lookup).
type Store struct {
	flows *FlowLog // the load balancer's flows, joined at query time; may be nil

	mu     sync.Mutex
	slots  []slot
	next   int            // the slot the next new trace takes
	byRoot map[string]int // request ids are looked up by a scan (queries are rare; Add stays cheap)
	seq    uint64
	drops  uint64 // hops dropped by MaxHopsPerTrace

	tap func(Hop) // sees every hop kept (Tap); nil: none
}

type slot struct {
	root string
	seq  uint64 // 0: empty
	hops []Hop
}

// NewStore keeps up to n traces (DefaultTraces when n <= 0), joining the
// gateway's hops with flows (nil: no load balancer hops).
func NewStore(n int, flows *FlowLog) *Store {
	if n <= 0 {
		n = DefaultTraces
	}
	return &Store{flows: flows, slots: make([]slot, n), byRoot: make(map[string]int, n)}
}

// Tap hands every hop the store takes to f as well (after Add's lock is
// released), such as the console's per-task statistics. Call it before the
// store is shared.
func (s *Store) Tap(f func(Hop)) { s.tap = f }

// Add records h under its trace id; a hop without a valid one is ignored.
// A nil Store ignores everything.
func (s *Store) Add(h Hop) {
	if s == nil || !ValidRoot(h.Trace) {
		return
	}
	if s.tap != nil {
		defer s.tap(h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byRoot[h.Trace]
	if !ok {
		i = s.next
		s.next = (s.next + 1) % len(s.slots)
		old := &s.slots[i]
		if old.seq != 0 {
			delete(s.byRoot, old.root)
		}
		s.seq++
		*old = slot{root: h.Trace, seq: s.seq, hops: old.hops[:0]}
		s.byRoot[h.Trace] = i
	}
	sl := &s.slots[i]
	if len(sl.hops) >= MaxHopsPerTrace {
		s.drops++
		return
	}
	sl.hops = append(sl.hops, h)
}

// Trace is one request's hops in order, as `portway trace` shows them.
type Trace struct {
	TraceID   string    `json:"traceId"`
	RequestID string    `json:"requestId,omitempty"`
	Start     int64     `json:"startUnixMicros"`  // the earliest hop's start
	Status    int       `json:"status,omitempty"` // the gateway's answer
	Hops      []HopView `json:"hops"`
}

// HopView is a hop with its start relative to the trace's.
type HopView struct {
	Offset int64 `json:"offsetMicros"`
	Hop
}

// Get finds a trace by trace id (with or without "Root=") or request id.
func (s *Store) Get(id string) (Trace, bool) {
	if s == nil {
		return Trace{}, false
	}
	if len(id) > len("Root=") && id[:len("Root=")] == "Root=" {
		id = RootOf(id)
	}
	s.mu.Lock()
	i, ok := s.byRoot[id]
	if !ok {
		i, ok = s.byRequestID(id)
	}
	var hops []Hop
	if ok {
		hops = slices.Clone(s.slots[i].hops)
	}
	s.mu.Unlock()
	if !ok {
		return Trace{}, false
	}
	return s.assemble(hops), true
}

// byRequestID finds the slot holding the gateway hop of request id: a
// scan, as queries are rare (a client may send one trace id with several
// requests: they share the trace).
func (s *Store) byRequestID(id string) (int, bool) {
	for j := range s.slots {
		for _, h := range s.slots[j].hops {
			if h.Kind == KindGateway && h.RequestID == id {
				return j, true
			}
		}
	}
	return 0, false
}

// Filter selects traces by the gateway's status: "" (any), an exact code
// ("401") or a class ("4xx").
type Filter struct {
	Status string
}

// ParseStatusFilter checks a --status value: a code 100-599 or a class 1xx-5xx.
func ParseStatusFilter(v string) (Filter, error) {
	if v == "" {
		return Filter{}, nil
	}
	if len(v) == 3 && v[0] >= '1' && v[0] <= '5' && (v[1:] == "xx" || v[1:] == "XX") {
		return Filter{Status: v[:1] + "xx"}, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 && len(v) == 3 {
		return Filter{Status: v}, nil
	}
	return Filter{}, fmt.Errorf("status %q: want a code (401) or a class (4xx)", v)
}

func (f Filter) match(status int) bool {
	switch {
	case f.Status == "":
		return true
	case f.Status[1:] == "xx":
		return status/100 == int(f.Status[0]-'0')
	}
	return strconv.Itoa(status) == f.Status
}

// Recent is up to n of the newest traces with a gateway hop matching f,
// newest first.
func (s *Store) Recent(n int, f Filter) []Trace {
	if s == nil || n <= 0 {
		return nil
	}
	var picked [][]Hop
	s.mu.Lock()
	for k := 1; k <= len(s.slots) && len(picked) < n; k++ {
		sl := &s.slots[(s.next-k+len(s.slots))%len(s.slots)]
		if sl.seq == 0 {
			break
		}
		for _, h := range sl.hops {
			if h.Kind == KindGateway {
				if f.match(h.Status) {
					picked = append(picked, slices.Clone(sl.hops))
				}
				break
			}
		}
	}
	s.mu.Unlock()
	out := make([]Trace, 0, len(picked))
	for _, hops := range picked {
		out = append(out, s.assemble(hops))
	}
	return out
}

var kindOrder = map[string]int{KindGateway: 0, KindNLB: 1, KindSidecar: 2, KindApp: 3}

// assemble adds the load balancer's hop for each gateway hop (its flow,
// found by the addresses of the gateway's upstream connection) and orders
// the hops by start time, then by kind.
func (s *Store) assemble(hops []Hop) Trace {
	t := Trace{}
	for _, h := range hops {
		t.TraceID = h.Trace
		if h.Kind == KindGateway {
			if t.RequestID == "" {
				t.RequestID, t.Status = h.RequestID, h.Status
			}
			if nh, ok := s.flows.hopFor(h); ok {
				hops = append(hops, nh)
			}
		}
	}
	slices.SortStableFunc(hops, func(a, b Hop) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]))
	})
	if len(hops) > 0 {
		t.Start = hops[0].Start
	}
	for _, h := range hops {
		t.Hops = append(t.Hops, HopView{Offset: h.Start - t.Start, Hop: h})
	}
	return t
}
