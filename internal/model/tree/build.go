package tree

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/pricestream/pricestream/internal/model/internal/base"
)

// rawTree is a tree as a loader read it, before validation and layout; its
// root is nodes[0].
type rawTree struct {
	nodes []rawNode
}

// rawNode is one node of a rawTree.
type rawNode struct {
	leaf  bool
	value float64 // leaf value

	feature     int
	left, right int // indexes into rawTree.nodes
	defaultLeft bool
	// threshold is, for a plain split (sp == nil), the t of "go left iff
	// x < t"; the loaders convert each library's comparison to that form.
	threshold float64
	sp        *special // a split off the fast path, or nil
}

// maxBitsetWords bounds the total size of the category bitsets of one
// model (16 MiB), so that a corrupt file naming huge categories cannot
// exhaust memory.
const maxBitsetWords = 1 << 22

// ensembleSpec is what a loader hands to build besides the trees.
type ensembleSpec struct {
	format       string
	numFeatures  int
	featureNames []string
	base         float64
	sum32        bool
	divisor      float64
	link         link
	scale        float64
	info         base.Info
}

// build validates the trees and lays them out flat. Every node must be
// reached from its tree's root exactly once (no cycles, no shared or
// dangling children), every feature index must be below numFeatures and
// every leaf value and threshold must be a number, so that the evaluator
// cannot index out of range or loop.
func build(spec ensembleSpec, trees []rawTree) (*Ensemble, error) {
	if spec.numFeatures < 0 || spec.numFeatures > maxFeatures {
		return nil, base.Invalid(spec.format, "", fmt.Errorf("number of features %d out of range [0, %d]", spec.numFeatures, maxFeatures))
	}
	total := 0
	for _, t := range trees {
		total += len(t.nodes)
	}
	if total > math.MaxInt32/2 {
		return nil, base.Invalid(spec.format, "", fmt.Errorf("too many nodes (%d)", total))
	}
	e := &Ensemble{
		nodes:        make([]node, 0, total),
		roots:        make([]int32, 0, len(trees)),
		numFeatures:  spec.numFeatures,
		featureNames: spec.featureNames,
		base:         spec.base,
		sum32:        spec.sum32,
		divisor:      spec.divisor,
		link:         spec.link,
		scale:        spec.scale,
		info:         spec.info,
	}
	var seen []bool
	var queue, level []int // raw index and depth of each node of a tree
	for ti, t := range trees {
		if len(t.nodes) == 0 {
			return nil, base.Invalid(spec.format, fmt.Sprintf("tree %d", ti), errors.New("tree has no nodes"))
		}
		if cap(seen) < len(t.nodes) {
			seen = make([]bool, len(t.nodes))
		} else {
			seen = seen[:len(t.nodes)]
			clear(seen)
		}
		// Breadth-first: queue holds raw indexes; the node for queue[k]
		// goes to nodes[start+k], so the two children of a split are
		// appended together and are adjacent.
		start := len(e.nodes)
		e.roots = append(e.roots, int32(start))
		queue = append(queue[:0], 0)
		level = append(level[:0], 0)
		depth := 0
		seen[0] = true
		for k := 0; k < len(queue); k++ {
			ri := queue[k]
			rn := &t.nodes[ri]
			pos := func() string { return fmt.Sprintf("tree %d node %d", ti, ri) }
			if rn.leaf {
				if math.IsNaN(rn.value) || math.IsInf(rn.value, 0) {
					return nil, base.Invalid(spec.format, pos(), fmt.Errorf("leaf value %v is not a finite number", rn.value))
				}
				// A leaf is its own left child, so a walk that reaches it
				// stays there.
				self := int32(start + k)
				e.nodes = append(e.nodes, node{value: rn.value, meta: leafMeta, left: self})
				continue
			}
			if rn.feature < 0 || rn.feature >= spec.numFeatures {
				return nil, base.Invalid(spec.format, pos(), fmt.Errorf("split feature %d out of range [0, %d)", rn.feature, spec.numFeatures))
			}
			for _, c := range []int{rn.left, rn.right} {
				if c < 0 || c >= len(t.nodes) {
					return nil, base.Invalid(spec.format, pos(), fmt.Errorf("child %d out of range [0, %d)", c, len(t.nodes)))
				}
				if seen[c] {
					return nil, base.Invalid(spec.format, pos(), fmt.Errorf("child %d is reached twice (a cycle or a shared node)", c))
				}
				seen[c] = true
			}
			n := node{meta: uint32(rn.feature), left: int32(start + len(queue))}
			queue = append(queue, rn.left, rn.right)
			level = append(level, level[k]+1, level[k]+1)
			depth = max(depth, level[k]+1)
			if !rn.defaultLeft {
				n.meta |= flagDefaultRight
			}
			if rn.sp != nil {
				if rn.sp.kind == lightGBMNumerical && math.IsNaN(rn.sp.threshold) {
					return nil, base.Invalid(spec.format, pos(), errors.New("threshold is NaN"))
				}
				n.meta |= flagSpecial
				n.value = float64(len(e.specials))
				e.specials = append(e.specials, *rn.sp)
			} else {
				if math.IsNaN(rn.threshold) {
					return nil, base.Invalid(spec.format, pos(), errors.New("threshold is NaN"))
				}
				n.value = rn.threshold
			}
			e.nodes = append(e.nodes, n)
		}
		e.depth = append(e.depth, depth)
	}
	for g := 0; g+groupSize <= len(e.depth); g += groupSize {
		e.groupDepth = append(e.groupDepth, slices.Max(e.depth[g:g+groupSize]))
	}
	return e, nil
}
