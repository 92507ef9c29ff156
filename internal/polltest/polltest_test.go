package polltest_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/polltest"
)

// TestUntil returns as soon as the condition holds, having polled it
// until then.
func TestUntil(t *testing.T) {
	var calls atomic.Int32
	polltest.Until(t, 10*time.Second, func() error {
		if calls.Add(1) < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	require.Equal(t, int32(4), calls.Load())
}

// recorder is a testing.TB whose Fatalf is recorded and ends the calling
// goroutine, as testing.T's does.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = format
	panic(r)
}

// TestUntilFails fails the test with the condition's last error once the
// deadline has passed.
func TestUntilFails(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	func() {
		defer func() { require.Equal(t, r, recover()) }()
		polltest.Until(r, 30*time.Millisecond, func() error { return errors.New("never") })
	}()
	require.Equal(t, "condition not met within %s: %v", r.msg)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}
