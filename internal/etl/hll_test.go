package etl

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestETLHLLAccuracy(t *testing.T) {
	for _, n := range []int{0, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000} {
		h := newHLL()
		for i := range n {
			h.add(hashString("user-" + strconv.Itoa(i)))
			h.add(hashString("user-" + strconv.Itoa(i))) // duplicates do not count
		}
		got := float64(h.estimate())
		tol := math.Max(2, 0.05*float64(n)) // 3 standard errors of 1.6 %
		require.InDelta(t, float64(n), got, tol, "n=%d", n)
	}
}

func TestETLHLLMergeAndRecompute(t *testing.T) {
	a, b, u := newHLL(), newHLL(), newHLL()
	for i := range 5000 {
		s := strconv.Itoa(i)
		if i%2 == 0 {
			a.add(hashString(s))
		} else {
			b.add(hashString(s))
		}
		u.add(hashString(s))
	}
	a.merge(b)
	require.Equal(t, u.reg, a.reg)
	require.Equal(t, u.estimate(), a.estimate())
	c := &hll{reg: a.reg}
	c.recompute()
	require.Equal(t, a.estimate(), c.estimate())
	require.InDelta(t, a.sum, c.sum, 1e-9)
}
