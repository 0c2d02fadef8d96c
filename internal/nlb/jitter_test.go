package nlb

import (
	"testing"
	"time"
)

// TestJitter: health checks are spread by ±5% of the interval so targets
// are not checked in lockstep; very short intervals are kept as they are.
func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 30 * time.Second, 20 * time.Millisecond} {
		lo, hi := d-d/20, d+d/20
		seen := map[time.Duration]bool{}
		for range 1000 {
			j := jitter(d)
			if j < lo || j >= hi {
				t.Fatalf("jitter(%s) = %s, want within [%s, %s)", d, j, lo, hi)
			}
			seen[j] = true
		}
		if len(seen) < 10 {
			t.Errorf("jitter(%s) gave only %d distinct values in 1000 draws", d, len(seen))
		}
	}
	for _, d := range []time.Duration{0, time.Millisecond, 19 * time.Millisecond} {
		if j := jitter(d); j != d {
			t.Errorf("jitter(%s) = %s, want it unchanged", d, j)
		}
	}
}
