package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const maxLimiterKeys = 10000

// failureLimiter limits failed client authentications per source IP. Only
// failures spend tokens; a source with no token left is refused until it
// regains one.
//
// It is deliberately not keyed by client id: client ids are public (every
// token carries one), so such a limit would let anyone lock a client out.
// A source can only exhaust its own budget.
type failureLimiter struct {
	limit rate.Limit
	burst int // < 0: disabled

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newFailureLimiter(burst int, refill time.Duration) *failureLimiter {
	return &failureLimiter{limit: rate.Every(refill), burst: burst, m: map[string]*rate.Limiter{}}
}

// blocked reports whether key has no failure left at now, and how long
// until it has one.
func (l *failureLimiter) blocked(now time.Time, key string) (time.Duration, bool) {
	if l.burst < 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		return 0, false
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration(math.Ceil((1 - tokens) / float64(l.limit) * float64(time.Second))), true
}

// fail records one failure against key.
func (l *failureLimiter) fail(now time.Time, key string) {
	if l.burst < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= maxLimiterKeys {
			l.sweepLocked(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.m[key] = lim
	}
	lim.AllowN(now, 1)
}

// sweepLocked forgets keys that have regained their whole burst: they hold
// no information.
func (l *failureLimiter) sweepLocked(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
}

// retryAfterSeconds renders a wait as a Retry-After value (>= 1).
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
