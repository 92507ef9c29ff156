package tree

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// neighbours returns float64 values around c where float32 rounding
// decides the side: c itself, its float32 neighbours, the midpoints between
// them, and the float64 values just around each.
func neighbours(c float32) []float64 {
	var out []float64
	down := math.Nextafter32(c, float32(math.Inf(-1)))
	up := math.Nextafter32(c, float32(math.Inf(1)))
	for _, v := range []float64{
		float64(c), float64(down), float64(up),
		(float64(down) + float64(c)) / 2, (float64(c) + float64(up)) / 2,
	} {
		if math.IsNaN(v) {
			continue
		}
		out = append(out, v, math.Nextafter(v, math.Inf(-1)), math.Nextafter(v, math.Inf(1)))
	}
	return append(out, 0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64)
}

func TestTreeLessThanFloat32(t *testing.T) {
	cs := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.1, -0.1, 1e-45, -1e-45, 1.1754944e-38,
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)),
		-6.1135292e-2, 5e-1, 16777216, 3.4e38,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		c := math.Float32frombits(rng.Uint32())
		if c == c {
			cs = append(cs, c)
		}
	}
	for _, c := range cs {
		th := lessThanFloat32(c)
		for _, x := range neighbours(c) {
			require.Equal(t, float32(x) < c, x < th, "c=%v (%#x) x=%v: t=%v", c, math.Float32bits(c), x, th)
		}
	}
	// NaN: float32(x) < NaN is never true.
	nan := float32(math.NaN())
	for _, x := range []float64{0, -1e300, math.Inf(-1)} {
		require.False(t, x < lessThanFloat32(nan))
	}
}

func TestTreeLessOrEqual(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cs := []float64{0, 1, -1, 1e-35, math.MaxFloat64, -math.MaxFloat64, math.Inf(-1), math.SmallestNonzeroFloat64}
	for range 20000 {
		c := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(c) && !math.IsInf(c, 1) {
			cs = append(cs, c)
		}
	}
	for _, c := range cs {
		th := lessOrEqual(c)
		for _, x := range []float64{c, math.Nextafter(c, math.Inf(-1)), math.Nextafter(c, math.Inf(1)), math.Inf(1), math.Inf(-1), 0} {
			require.Equal(t, x <= c, x < th, "c=%v x=%v", c, x)
		}
	}
}

func TestTreeSigmoid32(t *testing.T) {
	tests := []struct {
		x    float32
		want float32
	}{
		{0, 0.5},
		{100, 1},
		{-100, 3.006636e-39}, // -x capped at 88.7: never 0
		{-88.7, 3.006636e-39},
		{2, 0.880797}, // numpy: float32(1) / (exp(float32(-2)) + float32(1))
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, sigmoid32(tt.x), "x=%v", tt.x)
	}
}
