package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// placeholderSecret stands in for a secret of impossible length (empty or
// longer than bcrypt accepts), so that it still costs one comparison.
const placeholderSecret = "portway-placeholder-secret"

// Authenticate checks a client id and secret. Any failure wraps
// ErrInvalidClient.
//
// Every failure costs the same: exactly one bcrypt comparison at the
// client's cost. An unknown id is compared against a dummy hash at the cost
// most stored clients use; a secret of impossible length is replaced by a
// placeholder (and refused whatever the result). So response times do not
// tell which client ids exist.
//
// Successful verifications are cached in memory keyed by the client id and
// the SHA-256 of the secret, so repeated token requests with the right
// secret do not pay the bcrypt cost; a rotated or deleted client misses the
// cache. Failures are never cached.
func (c *ClientStore) Authenticate(id, secret string) (Client, error) {
	c.mu.Lock()
	c.refreshLocked()
	rec, known := c.clients[id]
	cost := c.usualCost
	c.mu.Unlock()
	known = known && id != "" && len(id) <= maxIDLen

	hash := []byte(rec.SecretHash)
	if !known {
		hash = c.dummies.get(cost)
	}
	usable := secret != "" && len(secret) <= maxSecretLen
	key := cacheKey{id: id, sum: sha256.Sum256([]byte(secret))}
	cached := subtle.ConstantTimeCompare([]byte(c.cache.get(key)), hash) == 1
	if known && usable && cached {
		return rec.public(), nil
	}

	candidate := []byte(secret)
	if !usable {
		candidate = []byte(placeholderSecret)
	}
	matched := c.compare(hash, candidate) == nil
	switch {
	case !known:
		return Client{}, fmt.Errorf("%w: %w", ErrInvalidClient, errUnknownClient)
	case !usable || !matched:
		return Client{}, fmt.Errorf("%w: %w", ErrInvalidClient, errWrongSecret)
	}
	c.cache.put(key, rec.SecretHash)
	return rec.public(), nil
}

// Verified returns the client when this id and secret were verified
// before (the success cache), at the cost of a hash and a map lookup: a
// source over its failure budget still gets in with a secret already
// proven, so failures from a shared address (every local process is
// 127.0.0.1) cannot lock out the clients that work.
func (c *ClientStore) Verified(id, secret string) (Client, bool) {
	c.mu.Lock()
	c.refreshLocked()
	rec, known := c.clients[id]
	c.mu.Unlock()
	if !known || secret == "" || len(secret) > maxSecretLen {
		return Client{}, false
	}
	hit := c.cache.get(cacheKey{id: id, sum: sha256.Sum256([]byte(secret))})
	if subtle.ConstantTimeCompare([]byte(hit), []byte(rec.SecretHash)) != 1 {
		return Client{}, false
	}
	return rec.public(), true
}

// warm makes the dummy hash for unknown ids ahead of the first request, so
// that request is not slowed by making it.
func (c *ClientStore) warm() {
	c.mu.Lock()
	cost := c.usualCost
	c.mu.Unlock()
	c.dummies.get(cost)
}

// dummyHashes holds, per bcrypt cost, the hash unknown client ids are
// compared against: of a random secret, so that nothing matches it. Each is
// made once, on first use.
type dummyHashes struct {
	mu sync.Mutex
	m  map[int]func() []byte
}

func (d *dummyHashes) get(cost int) []byte {
	d.mu.Lock()
	gen := d.m[cost]
	if gen == nil {
		gen = sync.OnceValue(func() []byte { return newDummyHash(cost) })
		if d.m == nil {
			d.m = map[int]func() []byte{}
		}
		d.m[cost] = gen
	}
	d.mu.Unlock()
	return gen()
}

func newDummyHash(cost int) []byte {
	// Neither can fail here (crypto/rand does not, cost comes from a valid
	// hash or the validated option); a nil hash would still refuse every
	// unknown id, only faster.
	secret, _ := newClientSecret()
	h, _ := bcrypt.GenerateFromPassword([]byte(secret), cost)
	return h
}

// usualCost returns the bcrypt cost most hashes in m use (the higher on a
// tie), or def when m has none.
func usualCost(m map[string]clientRecord, def int) int {
	counts := map[int]int{}
	best, bestN := def, 0
	for _, rec := range m {
		cost, err := bcrypt.Cost([]byte(rec.SecretHash))
		if err != nil {
			continue
		}
		counts[cost]++
		if n := counts[cost]; n > bestN || (n == bestN && cost > best) {
			best, bestN = cost, n
		}
	}
	return best
}
