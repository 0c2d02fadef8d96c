package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	defaultMaxCachedTokens = 10000
	maxTokenBytes          = 8 << 10
	nbfLeeway              = time.Minute
)

// principal is what a verified token says about its caller.
type principal struct {
	clientID string
	scopes   map[string]bool
	exp      time.Time
	idToken  bool // an ID token (token_use "id"), not an access token
}

// accessClaims are the Cognito access token claims the authorizer reads.
type accessClaims struct {
	jwt.Claims
	TokenUse string `json:"token_use"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

// authorizer is the COGNITO_USER_POOLS authorizer: RS256 only, keys from the
// JWKS, exact issuer, unexpired (by the injected clock). A method with
// scopes takes access tokens carrying at least one of them; a method
// without scopes takes ID tokens only, as AWS's does, so an access token
// (all that client credentials give) gets 401 there. Sources: API Gateway
// API Reference, Method.authorizationScopes ("When the method scope is
// configured, the client must provide an access token instead of an
// identity token"); AWS re:Post QUrEQW0PtJTZm34jx0UrnLlw ("If there are no
// scopes defined the API Gateway Cognito Authorizer will require the ID
// Token").
// Verified tokens are cached by the SHA-256 of the raw token until they
// expire; failures are never cached.
type authorizer struct {
	issuer string
	keys   *jwksCache
	now    func() time.Time
	max    int

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*principal
}

func newAuthorizer(issuer string, keys *jwksCache, now func() time.Time, max int) *authorizer {
	if max <= 0 {
		max = defaultMaxCachedTokens
	}
	return &authorizer{issuer: issuer, keys: keys, now: now, max: max, cache: map[[sha256.Size]byte]*principal{}}
}

// authorize checks the Authorization header value against the method
// scopes. A cached token costs its hash and no copy of it.
func (a *authorizer) authorize(ctx context.Context, header []byte, scopes []string) (*principal, *gwError) {
	token := bytes.TrimSpace(header)
	if len(token) > 7 && bytes.EqualFold(token[:7], []byte("Bearer ")) {
		token = bytes.TrimSpace(token[7:])
	}
	if len(token) == 0 {
		return nil, unauthorized("missing token")
	}
	if len(token) > maxTokenBytes {
		return nil, unauthorized("token too long")
	}
	key := sha256.Sum256(token)
	p := a.cached(key)
	if p == nil {
		var gerr *gwError
		if p, gerr = a.verify(ctx, string(token)); gerr != nil {
			return nil, gerr
		}
		a.store(key, p)
	}
	if !a.now().Before(p.exp) {
		a.drop(key)
		return nil, &gwError{typ: RespUnauthorized, message: msgExpired, reason: "token expired"}
	}
	if len(scopes) == 0 {
		if !p.idToken {
			return nil, unauthorized("access token on a method without scopes (it takes ID tokens)")
		}
		return p, nil
	}
	if p.idToken {
		return nil, unauthorized("ID token on a method with scopes (it takes access tokens)")
	}
	for _, s := range scopes {
		if p.scopes[s] {
			return p, nil
		}
	}
	return nil, unauthorized("no matching scope")
}

func unauthorized(reason string) *gwError { return newGWError(RespUnauthorized, reason) }

func (a *authorizer) verify(ctx context.Context, token string) (*principal, *gwError) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, unauthorized("malformed token or algorithm not RS256")
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, unauthorized("token has no key id")
	}
	pub, err := a.keys.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		if errors.Is(err, errJWKSUnavailable) {
			return nil, newGWError(RespAuthorizerFailure, err.Error())
		}
		return nil, unauthorized("unknown key id")
	}
	var c accessClaims
	if err := tok.Claims(pub, &c); err != nil {
		return nil, unauthorized("bad signature or claims")
	}
	now := a.now()
	switch {
	case c.Issuer != a.issuer:
		return nil, unauthorized("wrong issuer")
	case c.TokenUse != "access" && c.TokenUse != "id":
		return nil, unauthorized("neither an access nor an ID token")
	case c.TokenUse == "id" && len(c.Audience) == 0:
		return nil, unauthorized("ID token without aud")
	case c.Expiry == nil:
		return nil, unauthorized("token has no exp")
	case c.NotBefore != nil && now.Add(nbfLeeway).Before(c.NotBefore.Time()):
		return nil, unauthorized("token not valid yet")
	}
	p := &principal{clientID: c.ClientID, exp: c.Expiry.Time(), scopes: map[string]bool{}}
	if c.TokenUse == "id" {
		// An ID token names its app client in aud; its scope claim, if
		// any, grants nothing.
		p.idToken, p.clientID = true, c.Audience[0]
		return p, nil
	}
	if p.clientID == "" {
		p.clientID = c.Subject
	}
	for s := range strings.FieldsSeq(c.Scope) {
		p.scopes[s] = true
	}
	return p, nil
}

func (a *authorizer) cached(key [sha256.Size]byte) *principal {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cache[key]
}

func (a *authorizer) drop(key [sha256.Size]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.cache, key)
}

// store caches a verified token; when full it first evicts expired entries,
// then arbitrary ones down to 90% so that eviction cost is amortized.
func (a *authorizer) store(key [sha256.Size]byte, p *principal) {
	now := a.now()
	if !now.Before(p.exp) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.max {
		for k, v := range a.cache {
			if !now.Before(v.exp) {
				delete(a.cache, k)
			}
		}
		for k := range a.cache {
			if len(a.cache) < a.max-a.max/10 {
				break
			}
			delete(a.cache, k)
		}
	}
	a.cache[key] = p
}
