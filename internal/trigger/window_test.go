package trigger

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTriggerWindowLowWater marks records done in random order and checks
// that the low-water mark is always the oldest record not done, that the
// window refuses records past its bound until the mark moves, and that
// the ring grows and wraps without losing a record.
func TestTriggerWindowLowWater(t *testing.T) {
	const max, total = 300, 5000
	w := newWindow(max)
	recs := make([]Record, total)
	for i := range recs {
		recs[i].SequenceNumber = strconv.Itoa(i)
	}
	done := make([]bool, total)
	var open []uint64 // added, not done
	next, low := 0, 0
	rng := rand.New(rand.NewPCG(1, 2))
	for low < total {
		if next < total && rng.IntN(3) > 0 {
			first, n := w.add(recs[next:min(total, next+1+rng.IntN(40))])
			require.Equal(t, uint64(next), first)
			require.LessOrEqual(t, next+n-low, max, "records past the window")
			if n == 0 {
				require.Equal(t, max, next-low, "refused with room left")
			}
			for i := range n {
				open = append(open, uint64(next+i))
			}
			next += n
			continue
		}
		if len(open) == 0 {
			continue
		}
		// Mark a few random open records done.
		var ns []uint64
		for range 1 + rng.IntN(min(len(open), 5)) {
			j := rng.IntN(len(open))
			ns = append(ns, open[j])
			open[j] = open[len(open)-1]
			open = open[:len(open)-1]
		}
		w.mu.Lock()
		last := w.doneLocked(ns)
		w.mu.Unlock()
		for _, n := range ns {
			done[n] = true
		}
		was := low
		for low < total && low < next && done[low] {
			low++
		}
		if low == was {
			require.Nil(t, last, "the mark moved with record %d not done", was)
		} else {
			require.NotNil(t, last)
			require.Equal(t, strconv.Itoa(low-1), last.SequenceNumber)
		}
	}
	require.Equal(t, uint64(total), w.mu.low)
	// Empty again, it has room without waiting.
	require.NoError(t, w.wait(context.Background()))
}
