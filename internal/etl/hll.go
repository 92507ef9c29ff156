package etl

import (
	"math"
	"math/bits"
	"slices"
)

// hll is a HyperLogLog sketch with 2^hllP registers (standard error
// 1.04/√4096 ≈ 1.6 %), for approx_distinct. It keeps the sum of 2^-register
// and the count of zero registers as registers change, so an estimate is
// O(1); merging two sketches is O(registers).
//
// A sketch starts sparse: the non-zero registers as a sorted list (4 bytes
// each), since a window pane of one key usually sees a few distinct values
// and the dense registers take 4 KiB. It turns dense past hllSparseMax
// registers, where the list would no longer be the smaller. Both forms hold
// the same registers and give the same estimate.
type hll struct {
	reg   *[hllM]uint8 // dense registers; nil while sparse
	sp    []uint32     // sparse registers: index<<8 | value, by index
	sum   float64      // Σ 2^-reg[j]
	zeros int
}

const (
	hllP = 12
	hllM = 1 << hllP
	// hllSparseMax is the most registers a sparse sketch holds (1 KiB).
	hllSparseMax = 256
)

func newHLL() *hll {
	return &hll{sum: hllM, zeros: hllM}
}

// get returns register j.
func (h *hll) get(j int) uint8 {
	if h.reg != nil {
		return h.reg[j]
	}
	if i, ok := h.find(j); ok {
		return uint8(h.sp[i])
	}
	return 0
}

func (h *hll) find(j int) (int, bool) {
	return slices.BinarySearchFunc(h.sp, uint32(j), func(e, t uint32) int { return int(e>>8) - int(t) })
}

// set raises register j to r (r greater than its value).
func (h *hll) set(j int, r uint8) {
	old := uint8(0)
	if h.reg != nil {
		old = h.reg[j]
		h.reg[j] = r
	} else if i, ok := h.find(j); ok {
		old = uint8(h.sp[i])
		h.sp[i] = uint32(j)<<8 | uint32(r)
	} else {
		h.sp = slices.Insert(h.sp, i, uint32(j)<<8|uint32(r))
		if len(h.sp) > hllSparseMax {
			h.densify()
		}
	}
	if old == 0 {
		h.zeros--
	}
	h.sum += math.Ldexp(1, -int(r)) - math.Ldexp(1, -int(old))
}

// densify turns a sparse sketch dense.
func (h *hll) densify() {
	if h.reg != nil {
		return
	}
	h.reg = new([hllM]uint8)
	for _, e := range h.sp {
		h.reg[e>>8] = uint8(e)
	}
	h.sp = nil
}

// each calls fn for every non-zero register, by index.
func (h *hll) each(fn func(j int, r uint8)) {
	if h.reg == nil {
		for _, e := range h.sp {
			fn(int(e>>8), uint8(e))
		}
		return
	}
	for j, r := range h.reg {
		if r != 0 {
			fn(j, r)
		}
	}
}

// nonZero returns the number of non-zero registers.
func (h *hll) nonZero() int { return hllM - h.zeros }

// add adds a hashed value.
func (h *hll) add(x uint64) {
	j := int(x >> (64 - hllP))
	w := x<<hllP | 1<<(hllP-1) // guard bit bounds the rank
	rho := uint8(bits.LeadingZeros64(w)) + 1
	if rho > h.get(j) {
		h.set(j, rho)
	}
}

// merge takes the register-wise maximum of h and o into h.
func (h *hll) merge(o *hll) {
	if o.reg != nil && h.reg == nil && len(h.sp)+o.nonZero() > hllSparseMax {
		h.densify()
	}
	o.each(func(j int, r uint8) {
		if r > h.get(j) {
			h.set(j, r)
		}
	})
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
	h.sum, h.zeros = hllM, hllM
	h.each(func(_ int, r uint8) {
		h.zeros--
		h.sum += math.Ldexp(1, -int(r)) - 1
	})
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

// clone returns a copy of h.
func (h *hll) clone() *hll {
	c := *h
	if h.reg != nil {
		reg := *h.reg
		c.reg = &reg
	}
	c.sp = slices.Clone(h.sp)
	return &c
}
