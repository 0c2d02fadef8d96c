package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/model"
)

func TestLeases(t *testing.T) { forEachBackend(t, testLeases) }

func testLeases(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	const ttl = time.Minute
	if _, ok, err := s.ClaimIngest(ctx, "a", t0, ttl); ok || err != nil {
		t.Fatalf("claim on an empty store: %v %v", ok, err)
	}
	first, second := newIngest("b1"), newIngest("b2")
	second.CreatedDate = t0.Add(time.Second)
	for _, in := range []model.Ingest{second, first} {
		if err := s.CreateIngest(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.ClaimIngest(ctx, "a", t0, ttl)
	if err != nil || !ok || got.ID != first.ID {
		t.Fatalf("claim: %v %v %v (want the oldest)", got.ID, ok, err)
	}
	got, ok, _ = s.ClaimIngest(ctx, "b", t0, ttl)
	if !ok || got.ID != second.ID {
		t.Fatalf("second claim: %v %v", got.ID, ok)
	}
	if _, ok, _ := s.ClaimIngest(ctx, "c", t0.Add(ttl-time.Millisecond), ttl); ok {
		t.Fatal("claimed an ingest under an unexpired lease")
	}
	if err := s.RenewLease(ctx, first.ID, "a", t0.Add(ttl/2), ttl); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimIngest(ctx, "c", t0.Add(ttl+time.Millisecond), ttl); !ok {
		// second's lease (b, not renewed) has expired
		t.Fatal("expired lease not claimable")
	}
	// c now holds second; b's writes are refused.
	if err := s.RenewLease(ctx, second.ID, "b", t0, ttl); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew a lost lease: %v", err)
	}
	if _, err := s.UpdateLeasedIngest(ctx, second.ID, "b", func(i *model.Ingest) error { i.Status = model.IngestFailed; return nil }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("update under a lost lease: %v", err)
	}
	if in, err := s.UpdateLeasedIngest(ctx, second.ID, "c", func(i *model.Ingest) error { i.Status = model.IngestProcessing; return nil }); err != nil || in.Status != model.IngestProcessing {
		t.Fatalf("update under the lease: %v %v", in.Status, err)
	}
	for _, tt := range []struct {
		id   uuid.UUID
		at   time.Time
		want string
	}{
		{first.ID, t0.Add(ttl), "a"},                     // renewed until t0+1.5ttl
		{first.ID, t0.Add(2 * ttl), ""},                  // expired
		{second.ID, t0.Add(ttl + time.Millisecond), "c"}, // claimed by c
		{uuid.New(), t0, ""},                             // unknown
	} {
		if got, err := s.LeaseHolder(ctx, tt.id, tt.at); err != nil || got != tt.want {
			t.Errorf("LeaseHolder(%s, %s) = %q, %v; want %q", tt.id, tt.at, got, err, tt.want)
		}
	}
	// first is renewed until t0+1.5ttl.
	if _, ok, _ := s.ClaimIngest(ctx, "c", t0.Add(ttl+time.Millisecond), ttl); ok {
		t.Fatal("claimed a renewed lease")
	}
	if err := s.ReleaseLease(ctx, first.ID, "a"); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.ClaimIngest(ctx, "d", t0, ttl); !ok || got.ID != first.ID {
		t.Fatal("released ingest not claimable at once")
	}

	// Versions: create v1, then a second create fails, an update gets v2.
	v, err := s.AssignVersion(ctx, first.ID, "d", t0)
	if err != nil || v != 1 {
		t.Fatalf("assign: %v %v", v, err)
	}
	if v, err := s.AssignVersion(ctx, first.ID, "d", t0); err != nil || v != 1 {
		t.Fatalf("reassign keeps the version: %v %v", v, err)
	}
	if _, err := s.AssignVersion(ctx, first.ID, "x", t0); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("assign without the lease: %v", err)
	}
	m := newManifest("b1", 1)
	m.IngestID = first.ID
	if _, err := s.RegisterBag(ctx, "x", m, func(*model.Ingest) error { return nil }); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("register without the lease: %v", err)
	}
	if _, err := s.LatestStorageManifest(ctx, "digitised", "b1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("manifest written without the lease: %v", err)
	}
	in, err := s.RegisterBag(ctx, "d", m, func(i *model.Ingest) error { i.Status = model.IngestSucceeded; return nil })
	if err != nil || in.Status != model.IngestSucceeded || in.Version != 1 {
		t.Fatalf("register: %+v %v", in, err)
	}
	if _, err := s.RegisterBag(ctx, "d", m, func(*model.Ingest) error { return nil }); !errors.Is(err, ErrConflict) {
		t.Fatalf("register twice: %v", err)
	}

	for _, tt := range []struct {
		typ  model.IngestType
		ext  string
		want model.BagVersion
		err  error
	}{
		{model.IngestCreate, "b1", 0, ErrBagExists},
		{model.IngestUpdate, "b1", 2, nil},
		{model.IngestUpdate, "b1", 3, nil}, // v2 is held by the ingest before: not failed
		{model.IngestUpdate, "nope", 0, ErrBagMissing},
	} {
		in := newIngest(tt.ext)
		in.Type = tt.typ
		in.Callback = nil
		if err := s.CreateIngest(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.ClaimIngest(ctx, "e", t0, ttl); !ok {
			t.Fatal("claim")
		}
		v, err := s.AssignVersion(ctx, in.ID, "e", t0)
		if v != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s %s: %v %v, want %v %v", tt.typ, tt.ext, v, err, tt.want, tt.err)
		}
		if _, err := s.UpdateLeasedIngest(ctx, in.ID, "e", func(i *model.Ingest) error {
			i.Status = model.IngestSucceeded
			if tt.err != nil {
				i.Status = model.IngestFailed
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	// A finished ingest with a callback to send stays claimable until the
	// callback is done.
	if _, err := s.UpdateLeasedIngest(ctx, first.ID, "d", func(i *model.Ingest) error { return nil }); err != nil {
		t.Fatal(err)
	}
	s.ReleaseLease(ctx, first.ID, "d")
	got, ok, _ = s.ClaimIngest(ctx, "f", t0.Add(10*ttl), ttl)
	if !ok || got.ID != first.ID || got.Callback.Status != model.CallbackPending {
		t.Fatalf("finished ingest with a pending callback not claimed: %v %+v", ok, got)
	}
	s.UpdateLeasedIngest(ctx, first.ID, "f", func(i *model.Ingest) error { i.Callback.Status = model.CallbackSucceeded; return nil })
	s.ReleaseLease(ctx, first.ID, "f")
	for {
		got, ok, _ := s.ClaimIngest(ctx, "g", t0.Add(100*ttl), ttl)
		if !ok {
			break
		}
		if got.ID == first.ID {
			t.Fatal("done ingest claimed again")
		}
		s.UpdateLeasedIngest(ctx, got.ID, "g", func(i *model.Ingest) error {
			i.Status = model.IngestFailed
			if i.Callback != nil {
				i.Callback.Status = model.CallbackFailed
			}
			return nil
		})
	}
}

// Many claimers on several handles: every ingest is claimed exactly once.
func TestConcurrentClaims(t *testing.T) { forEachBackend(t, testConcurrentClaims) }

func testConcurrentClaims(t *testing.T, open opener) {
	const n, handles, perHandle = 40, 3, 3
	s := open(t)
	for i := range n {
		in := newIngest(fmt.Sprintf("c%d", i))
		in.Callback = nil
		if err := s.CreateIngest(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[uuid.UUID]string{}
	var wg sync.WaitGroup
	for h := range handles {
		hs := open(t)
		for c := range perHandle {
			owner := fmt.Sprintf("h%dc%d", h, c)
			wg.Go(func() {
				for {
					in, ok, err := hs.ClaimIngest(t.Context(), owner, t0, time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					if prev, dup := claimed[in.ID]; dup {
						t.Errorf("%s claimed by %s and %s", in.ID, prev, owner)
					}
					claimed[in.ID] = owner
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(claimed) != n {
		t.Fatalf("%d of %d ingests claimed", len(claimed), n)
	}
}
