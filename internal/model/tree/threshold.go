package tree

import "math"

// The evaluator decides every plain numerical split with one float64
// comparison, x < t, whatever library wrote the model. The loaders turn each
// library's own comparison into that form exactly, once, at load time.

// lessThanFloat32 returns the float64 t such that, for every float64 x that
// is not NaN,
//
//	x < t  ⇔  float32(x) < c
//
// which is XGBoost's decision: it stores inputs as float32 and goes left iff
// float32(x) < split_condition. Rounding to float32 is monotonic, so the set
// of x with float32(x) < c is a half-line; t is its least upper bound, the
// smallest float64 that rounds to c or above.
func lessThanFloat32(c float32) float64 {
	switch {
	case c != c: // NaN: float32(x) < NaN is never true
		return math.Inf(-1)
	case math.IsInf(float64(c), -1): // nothing is below -Inf
		return math.Inf(-1)
	}
	// Every x below the midpoint m between c and the float32 below it rounds
	// to that float32 or lower; every x above m rounds to c or higher; m
	// itself rounds to whichever of the two has an even mantissa. m is
	// exactly representable in float64 (float32 neighbours differ by one bit
	// in the 24th place).
	var m float64
	below := math.Nextafter32(c, float32(math.Inf(-1)))
	if math.IsInf(float64(below), -1) {
		// c is -MaxFloat32: x rounds to -Inf below -MaxFloat32 - ulp/2.
		m = float64(c) - math.Ldexp(1, 127-24)
	} else if math.IsInf(float64(c), 1) {
		// x rounds to +Inf from MaxFloat32 + ulp/2 on.
		m = math.MaxFloat32 + math.Ldexp(1, 127-24)
	} else {
		m = (float64(below) + float64(c)) / 2
	}
	if float32(m) >= c {
		return m
	}
	return math.Nextafter(m, math.Inf(1))
}

// lessOrEqual returns the float64 t such that, for every float64 x that is
// not NaN and c < +Inf, x < t ⇔ x <= c: LightGBM's decision (fval <=
// threshold). For c = +Inf there is no such t (x = +Inf would go the wrong
// way); the LightGBM loader keeps such splits in their own form.
func lessOrEqual(c float64) float64 {
	return math.Nextafter(c, math.Inf(1))
}
