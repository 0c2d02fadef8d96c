// Package testutil holds helpers that the tests of several packages share.
// Only test files import it.
package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, and fails the test (t.Fatalf) when
// timeout passes first. The poll interval starts at 1 ms and doubles up to
// 20 ms, so a condition that holds soon is seen soon and an expensive one
// (a request, a process listing) is not run in a tight loop.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
		interval = min(2*interval, 20*time.Millisecond)
	}
}
