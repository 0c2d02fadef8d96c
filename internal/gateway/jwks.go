package gateway

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	maxJWKSBytes  = 1 << 20 // 1 MiB
	minRSAKeyBits = 2048
)

var (
	errUnknownKID      = errors.New("unknown key id")
	errJWKSUnavailable = errors.New("signing keys unavailable")
)

// jwksCache holds the RSA signing keys of the user pool by kid. Keys are
// fetched lazily, and fetched again when a token names an unknown kid, at
// most once per refetch period (failed fetches count too), so forged kids
// cannot make the gateway hammer the key endpoint.
type jwksCache struct {
	url     string
	client  *http.Client
	now     func() time.Time
	period  time.Duration
	timeout time.Duration

	fetchMu sync.Mutex // serializes fetches

	mu        sync.RWMutex
	keys      map[string]*rsa.PublicKey
	lastFetch time.Time // zero: never fetched
	lastErr   error
}

func newJWKSCache(url string, client *http.Client, now func() time.Time, period, timeout time.Duration) *jwksCache {
	return &jwksCache{url: url, client: client, now: now, period: period, timeout: timeout}
}

// key returns the key for kid, fetching the key set when needed.
func (j *jwksCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k := j.lookup(kid); k != nil {
		return k, nil
	}
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	// Another request may have fetched while we waited.
	j.mu.RLock()
	k, last, lastErr := j.keys[kid], j.lastFetch, j.lastErr
	j.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	if !last.IsZero() && j.now().Sub(last) < j.period {
		if lastErr != nil {
			return nil, fmt.Errorf("%w: %w", errJWKSUnavailable, lastErr)
		}
		return nil, errUnknownKID
	}
	// Do not let one client's cancellation fail the shared fetch.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.timeout)
	defer cancel()
	keys, err := j.fetch(fctx)
	j.mu.Lock()
	j.lastFetch, j.lastErr = j.now(), err
	if err == nil {
		j.keys = keys
	}
	j.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errJWKSUnavailable, err)
	}
	if k := keys[kid]; k != nil {
		return k, nil
	}
	return nil, errUnknownKID
}

func (j *jwksCache) lookup(kid string) *rsa.PublicKey {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.keys[kid]
}

func (j *jwksCache) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks fetch: status %s", res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks read: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks read: body larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS keeps the usable RS256 signing keys; others are skipped.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || pub.N.BitLen() < minRSAKeyBits {
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		keys[k.KeyID] = pub
	}
	return keys, nil
}
