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

// TestETLHLLSparse: a sketch that starts sparse holds the same registers
// and gives the same estimates as one dense from the start, through the
// switch to dense, and merges the same whatever the forms.
func TestETLHLLSparse(t *testing.T) {
	regs := func(h *hll) []uint8 {
		out := make([]uint8, hllM)
		for j := range out {
			out[j] = h.get(j)
		}
		return out
	}
	dense := func() *hll { h := newHLL(); h.densify(); return h }
	sp, dn := newHLL(), dense()
	for i := range 2000 {
		x := hashString("v" + strconv.Itoa(i%1500))
		sp.add(x)
		dn.add(x)
		if i%97 == 0 || i == 1999 {
			require.Equal(t, dn.estimate(), sp.estimate(), "after %d adds", i+1)
			require.Equal(t, regs(dn), regs(sp), "after %d adds", i+1)
			require.InDelta(t, dn.sum, sp.sum, 1e-9)
		}
		if i < 100 {
			require.Nil(t, sp.reg, "a few values keep it sparse")
		}
	}
	require.NotNil(t, sp.reg, "1,500 distinct values turn it dense")

	build := func(from, to int, denseForm bool) *hll {
		h := newHLL()
		if denseForm {
			h.densify()
		}
		for i := from; i < to; i++ {
			h.add(hashString("u" + strconv.Itoa(i)))
		}
		return h
	}
	for _, c := range []struct {
		name               string
		aDense, bDense     bool
		aFrom, aTo, bFrom  int
		bTo                int
		wantDenseAfterward bool
	}{
		{"sparse+sparse", false, false, 0, 50, 30, 90, false},
		{"sparse+sparse overflowing", false, false, 0, 200, 150, 400, true},
		{"sparse+dense", false, true, 0, 50, 30, 90, false}, // few registers: it stays sparse
		{"dense+sparse", true, false, 0, 50, 30, 90, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := build(c.aFrom, c.aTo, c.aDense), build(c.bFrom, c.bTo, c.bDense)
			u := build(min(c.aFrom, c.bFrom), max(c.aTo, c.bTo), true)
			a.merge(b)
			require.Equal(t, regs(u), regs(a))
			require.Equal(t, u.estimate(), a.estimate())
			require.Equal(t, c.wantDenseAfterward, a.reg != nil)
			c2 := &hll{sp: a.sp, reg: a.reg}
			c2.recompute()
			require.Equal(t, a.zeros, c2.zeros)
			require.InDelta(t, a.sum, c2.sum, 1e-9)
		})
	}
}
