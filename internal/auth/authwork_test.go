package auth

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// compareCounter replaces a store's bcrypt comparison and records the cost
// of every call, so tests can check the work done without timing it.
type compareCounter struct {
	mu    sync.Mutex
	costs []int
}

func countCompares(t *testing.T, cs *ClientStore) *compareCounter {
	t.Helper()
	cc := &compareCounter{}
	real := cs.compare
	cs.compare = func(hash, secret []byte) error {
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			t.Errorf("comparison against a malformed hash: %v", err)
		}
		cc.mu.Lock()
		cc.costs = append(cc.costs, cost)
		cc.mu.Unlock()
		return real(hash, secret)
	}
	return cc
}

// take returns the costs recorded since the last call.
func (cc *compareCounter) take() []int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	out := cc.costs
	cc.costs = nil
	return out
}

// Every way of failing costs exactly one bcrypt comparison at the client's
// cost, so response times do not tell which client ids exist.
func TestAuthenticateWorkIsUniform(t *testing.T) {
	const cost = bcrypt.MinCost + 1
	cs, err := OpenClientStore(t.TempDir(), WithBcryptCost(cost))
	if err != nil {
		t.Fatal(err)
	}
	id, secret := mustCreate(t, cs, "victim", scopeBags)
	cc := countCompares(t, cs)

	wrongSameLen := strings.Repeat("z", len(secret))
	tests := []struct {
		name, id, secret string
		unknown          bool
	}{
		{"unknown id", "nosuchclient00000000000000", secret, true},
		{"unknown id, short secret", "nosuchclient00000000000000", "x", true},
		{"overlong id", strings.Repeat("a", maxIDLen+1), secret, true},
		{"empty id", "", secret, true},
		{"wrong secret", id, wrongSameLen, false},
		{"wrong-length secret", id, "x", false},
		{"secret plus one byte", id, secret + "x", false},
		{"73-byte secret", id, strings.Repeat("a", maxSecretLen+1), false},
		{"100-byte secret", id, strings.Repeat("a", 100), false},
		{"100-byte secret starting with the secret", id, secret + strings.Repeat("a", 100-len(secret)), false},
		{"empty secret", id, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cs.Authenticate(tc.id, tc.secret)
			if !errors.Is(err, ErrInvalidClient) {
				t.Fatalf("err = %v, want ErrInvalidClient", err)
			}
			if got := errors.Is(err, errUnknownClient); got != tc.unknown {
				t.Errorf("err = %v; unknown client = %v, want %v", err, got, tc.unknown)
			}
			if costs := cc.take(); len(costs) != 1 || costs[0] != cost {
				t.Errorf("bcrypt comparisons at costs %v, want exactly [%d]", costs, cost)
			}
		})
	}

	t.Run("right secret is cached, wrong ones are not", func(t *testing.T) {
		for i, want := range []int{1, 0, 0} {
			if _, err := cs.Authenticate(id, secret); err != nil {
				t.Fatalf("Authenticate #%d: %v", i, err)
			}
			if n := len(cc.take()); n != want {
				t.Errorf("Authenticate #%d: %d comparisons, want %d", i, n, want)
			}
		}
		for range 2 {
			if _, err := cs.Authenticate(id, wrongSameLen); !errors.Is(err, ErrInvalidClient) {
				t.Fatalf("wrong secret accepted: %v", err)
			}
			if n := len(cc.take()); n != 1 {
				t.Errorf("wrong secret after a cached success: %d comparisons, want 1", n)
			}
		}
	})
}

// After BcryptCost changes, unknown ids still cost what the stored clients
// cost, not what new secrets will.
func TestAuthenticateUnknownIDCostFollowsClients(t *testing.T) {
	dir := t.TempDir()
	old, err := OpenClientStore(dir, WithBcryptCost(bcrypt.MinCost+1))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := mustCreate(t, old, "a", scopeBags)
	mustCreate(t, old, "b", scopeBags)

	cs, err := OpenClientStore(dir, WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, cs, "c", scopeBags) // one client at the new cost
	cc := countCompares(t, cs)
	for _, tc := range []struct{ id, secret string }{{"nosuchclient00000000000000", "x"}, {id, "x"}} {
		if _, err := cs.Authenticate(tc.id, tc.secret); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("Authenticate(%q): %v", tc.id, err)
		}
		if costs := cc.take(); len(costs) != 1 || costs[0] != bcrypt.MinCost+1 {
			t.Errorf("Authenticate(%q): comparisons at costs %v, want [%d]", tc.id, costs, bcrypt.MinCost+1)
		}
	}
}
