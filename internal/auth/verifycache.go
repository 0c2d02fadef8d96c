package auth

import "sync"

const verifyCacheSize = 4096

type cacheKey struct {
	id  string
	sum [32]byte // SHA-256 of the secret; the secret itself is never kept
}

// verifyCache remembers which (client id, secret digest) pairs matched
// which bcrypt hash. It is bounded: when full it is emptied.
type verifyCache struct {
	mu  sync.Mutex
	max int
	m   map[cacheKey]string
}

func newVerifyCache(max int) *verifyCache {
	return &verifyCache{max: max, m: map[cacheKey]string{}}
}

// get returns the bcrypt hash k was verified against, or "".
func (v *verifyCache) get(k cacheKey) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[k]
}

func (v *verifyCache) put(k cacheKey, hash string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= v.max {
		clear(v.m)
	}
	v.m[k] = hash
}
