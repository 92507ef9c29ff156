package etl

import (
	"math"
	"math/bits"
)

// hll is a HyperLogLog sketch with 2^hllP registers (4 KiB; standard error
// 1.04/√4096 ≈ 1.6 %), for approx_distinct. It keeps the sum of 2^-register
// and the count of zero registers as registers change, so an estimate is
// O(1); merging two sketches is O(registers).
type hll struct {
	reg   [hllM]uint8
	sum   float64 // Σ 2^-reg[j]
	zeros int
}

const (
	hllP = 12
	hllM = 1 << hllP
)

func newHLL() *hll {
	h := &hll{sum: hllM, zeros: hllM}
	return h
}

// add adds a hashed value.
func (h *hll) add(x uint64) {
	j := x >> (64 - hllP)
	w := x<<hllP | 1<<(hllP-1) // guard bit bounds the rank
	rho := uint8(bits.LeadingZeros64(w)) + 1
	if old := h.reg[j]; rho > old {
		if old == 0 {
			h.zeros--
		}
		h.sum += math.Ldexp(1, -int(rho)) - math.Ldexp(1, -int(old))
		h.reg[j] = rho
	}
}

// merge takes the register-wise maximum of h and o into h.
func (h *hll) merge(o *hll) {
	for j, r := range o.reg {
		if r > h.reg[j] {
			if h.reg[j] == 0 {
				h.zeros--
			}
			h.sum += math.Ldexp(1, -int(r)) - math.Ldexp(1, -int(h.reg[j]))
			h.reg[j] = r
		}
	}
}

// estimate returns the estimated number of distinct values added.
func (h *hll) estimate() int64 {
	const m = float64(hllM)
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / h.sum
	if e <= 2.5*m && h.zeros > 0 {
		e = m * math.Log(m/float64(h.zeros)) // linear counting for small ranges
	}
	return int64(e + 0.5)
}

// recompute rebuilds sum and zeros from the registers (after decoding).
func (h *hll) recompute() {
	h.sum, h.zeros = 0, 0
	for _, r := range h.reg {
		if r == 0 {
			h.zeros++
		}
		h.sum += math.Ldexp(1, -int(r))
	}
}

// hashString is FNV-1a finished with murmur3's fmix64: deterministic across
// processes (sketches are checkpointed) and well mixed in the high bits.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
