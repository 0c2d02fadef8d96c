package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const maxLimiterKeys = 10000

// failureLimiter limits failed client authentications per key (a source IP
// or a client id). Only failures spend tokens; a key with no token left is
// refused until one is regained.
type failureLimiter struct {
	limit rate.Limit
	burst int // < 0: disabled

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newFailureLimiter(burst int, refill time.Duration) *failureLimiter {
	return &failureLimiter{limit: rate.Every(refill), burst: burst, m: map[string]*rate.Limiter{}}
}

// blocked reports whether any of keys has no failure left at now, and how
// long until it has one.
func (l *failureLimiter) blocked(now time.Time, keys ...string) (time.Duration, bool) {
	if l.burst < 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		lim := l.m[k]
		if lim == nil {
			continue
		}
		if tokens := lim.TokensAt(now); tokens < 1 {
			d := time.Duration(math.Ceil((1 - tokens) / float64(l.limit) * float64(time.Second)))
			wait = max(wait, d)
		}
	}
	return wait, wait > 0
}

// fail records one failure against each key.
func (l *failureLimiter) fail(now time.Time, keys ...string) {
	if l.burst < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		lim := l.m[k]
		if lim == nil {
			if len(l.m) >= maxLimiterKeys {
				l.sweepLocked(now)
			}
			lim = rate.NewLimiter(l.limit, l.burst)
			l.m[k] = lim
		}
		lim.AllowN(now, 1)
	}
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
