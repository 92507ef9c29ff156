package sim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The alias table's chance of each index, read off the table (slot j is
// drawn with 1/n and keeps it with prob, else passes it to its alias), is
// its weight's share.
func TestAliasTableChances(t *testing.T) {
	long := make([]float64, 1000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range long {
		long[i] = math.Exp(r.NormFloat64() * 2)
	}
	for _, weights := range [][]float64{
		{1},
		{1, 1, 1, 1},
		{5, 1},
		{0.1, 0, 3, 7, 0.5},
		long,
	} {
		table := newAliasTable(weights)
		n, sum := float64(len(weights)), 0.0
		for _, v := range weights {
			sum += v
		}
		chance := make([]float64, len(weights))
		for j, s := range table {
			chance[j] += s.prob / n
			chance[s.alias] += (1 - s.prob) / n
		}
		for i, v := range weights {
			require.InDelta(t, v/sum, chance[i], 1e-12, "index %d of %v", i, weights[:min(len(weights), 5)])
		}
		// And pick follows the table: every u of slot j goes to j or its
		// alias, split at prob.
		for j, s := range table {
			if s.prob > 0 {
				require.Equal(t, j, table.pick((float64(j)+s.prob*0.999)/n))
			}
			if s.prob < 1 {
				require.Equal(t, int(s.alias), table.pick((float64(j)+s.prob+(1-s.prob)/2)/n))
			}
		}
		require.Less(t, table.pick(math.Nextafter(1, 0)), len(weights))
	}
}

func TestFIFOKeepsOrder(t *testing.T) {
	var q fifo[int]
	var model []int
	r := rand.New(rand.NewPCG(3, 4))
	next, most := 0, 0
	for range 10_000 {
		for range r.IntN(5) {
			q.push(next)
			model = append(model, next)
			next++
		}
		most = max(most, len(model))
		n := r.IntN(min(len(model), 6) + 1)
		require.Equal(t, model[:n], q.items()[:n])
		q.drop(n)
		model = model[n:]
		require.Equal(t, len(model), len(q.items()))
	}
	// Storage is reused: it stays within a few times the most ever
	// queued at once, not the 20,000 or so pushed.
	require.LessOrEqual(t, cap(q.s), 4*most, "most queued %d of %d", most, next)
}
