// Package polltest waits in tests for a condition to hold, polling it
// against a deadline instead of sleeping for a guessed time (STYLE.md
// §10). It is for tests only and imports nothing of the project.
package polltest

import (
	"testing"
	"time"
)

// Until calls cond until it returns nil and fails the test with cond's
// last error when d has passed first. cond is called at least once, and
// once more after the deadline; between calls it waits 1 ms, doubling to
// at most 20 ms, so a condition that holds soon is seen soon and a slow
// one is not polled hard. It blocks the calling goroutine.
func Until(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	wait := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", d, err)
		}
		<-time.After(wait) // between polls, not standing for a condition
		wait = min(2*wait, 20*time.Millisecond)
	}
}
