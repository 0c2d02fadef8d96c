package gateway

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const defaultMaxClients = 10000

// stageRT is a stage at run time: its name, its index into per-stage data
// (integration URIs) and its throttles.
type stageRT struct {
	name    string
	index   int
	limiter *rate.Limiter   // nil: no stage throttling
	clients *clientLimiters // nil: no per-client throttling
}

func newStageRT(i int, st Stage, def ThrottleConfig) *stageRT {
	t := def
	if st.Throttle != nil {
		t = *st.Throttle
	}
	s := &stageRT{name: st.Name, index: i}
	if t.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(t.RateLimit), t.BurstLimit)
	}
	if pc := t.PerClient; pc.RateLimit > 0 {
		s.clients = newClientLimiters(pc)
	}
	return s
}

// clientLimiters holds one token bucket per client id, at most max of them;
// the least recently used bucket is dropped first. A dropped client starts
// again with a full bucket, so the bound can only make throttling more
// lenient, never stricter.
type clientLimiters struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	order *list.List // of *clientBucket, most recently used first
	byID  map[string]*list.Element
}

type clientBucket struct {
	id  string
	lim *rate.Limiter
}

func newClientLimiters(c ClientThrottleConfig) *clientLimiters {
	m := c.MaxClients
	if m <= 0 {
		m = defaultMaxClients
	}
	return &clientLimiters{limit: rate.Limit(c.RateLimit), burst: c.BurstLimit, max: m, order: list.New(), byID: map[string]*list.Element{}}
}

// allow takes one token from the client's bucket at now.
func (c *clientLimiters) allow(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byID[id]; e != nil {
		c.order.MoveToFront(e)
		return e.Value.(*clientBucket).lim.AllowN(now, 1)
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byID, oldest.Value.(*clientBucket).id)
	}
	b := &clientBucket{id: id, lim: rate.NewLimiter(c.limit, c.burst)}
	c.byID[id] = c.order.PushFront(b)
	return b.lim.AllowN(now, 1)
}

func (c *clientLimiters) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
