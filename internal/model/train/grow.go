package train

import (
	"math"
)

// gradPair is a gradient and hessian sum.
type gradPair struct{ g, h float64 }

func (p gradPair) add(o gradPair) gradPair { return gradPair{p.g + o.g, p.h + o.h} }
func (p gradPair) sub(o gradPair) gradPair { return gradPair{p.g - o.g, p.h - o.h} }

// node is one node of a fitted tree, with what XGBoost's JSON model
// records of it.
type node struct {
	left, right int32 // children, -1 for a leaf
	parent      int32 // -1 for the root
	feature     int32
	bin         uint16  // split: value bins <= bin go left
	threshold   float32 // split: float32(x) < threshold goes left
	defaultLeft bool    // split: a missing value goes left
	leaf        float32 // leaf: its value, Eta times weight
	weight      float64 // the node's weight (XGBoost's base_weight)
	gain        float64 // split: loss reduction (XGBoost's loss_changes)
	hess        float64 // hessian sum (XGBoost's sum_hessian)
}

func (n *node) isLeaf() bool { return n.left < 0 }

// grower fits one tree at a time to the gradients of the training rows.
type grower struct {
	cfg      Config
	q        *quantizer
	nf       int
	bins     []uint16   // training rows' bins, row-major
	grad     []gradPair // per training row
	monotone []int8     // per feature
	scratch  []int32
	pool     [][]gradPair
	// pred is the margin of every training row; grow adds each leaf to
	// the rows that reach it.
	pred []float32
}

// open is a node waiting to be split or made a leaf.
type open struct {
	id         int32
	rows       []int32    // its training rows, ascending
	hist       []gradPair // nil when the node cannot be split (max depth)
	sum        gradPair
	depth      int
	lower, upp float64 // bounds of its weight (monotone constraints)
}

// candidate is a split of a node.
type candidate struct {
	feature     int
	bin         int
	defaultLeft bool
	gain        float64
	left, right gradPair
	wl, wr      float64
}

func (g *grower) getHist() []gradPair {
	if n := len(g.pool); n > 0 {
		h := g.pool[n-1]
		g.pool = g.pool[:n-1]
		clear(h)
		return h
	}
	return make([]gradPair, g.q.size)
}

func (g *grower) putHist(h []gradPair) {
	if h != nil {
		g.pool = append(g.pool, h)
	}
}

// buildHist sums the gradients of rows into h by bin.
func (g *grower) buildHist(h []gradPair, rows []int32) {
	nf := g.nf
	offs := g.q.offs
	for _, r := range rows {
		gp := g.grad[r]
		b := g.bins[int(r)*nf : int(r)*nf+nf]
		for f, bf := range b {
			p := &h[offs[f]+int(bf)]
			p.g += gp.g
			p.h += gp.h
		}
	}
}

// weight is the optimal leaf weight of s under the bounds.
func (g *grower) weight(s gradPair, lower, upper float64) float64 {
	w := -s.g / (s.h + g.cfg.Lambda)
	return min(max(w, lower), upper)
}

// gainGiven is the loss reduction of weight w for s, as XGBoost's
// CalcGainGivenWeight; for the unbounded weight it is G²/(H+λ).
func (g *grower) gainGiven(s gradPair, w float64) float64 {
	return -(2*s.g*w + (s.h+g.cfg.Lambda)*w*w)
}

// grow fits a tree to the gradients of rows (ascending, all sampled
// training rows) and adds its leaves to the predictions of those rows.
func (g *grower) grow(rows []int32) []node {
	if cap(g.scratch) < len(rows) {
		g.scratch = make([]int32, len(rows))
	}
	root := open{id: 0, rows: rows, depth: 0, lower: math.Inf(-1), upp: math.Inf(1)}
	for _, r := range rows {
		root.sum = root.sum.add(g.grad[r])
	}
	if g.cfg.MaxDepth > 0 {
		root.hist = g.getHist()
		g.buildHist(root.hist, rows)
	}
	nodes := []node{{parent: -1}}
	// Depth first, so that at most one histogram per level is held (a
	// breadth-first queue would hold one per open node: gigabytes at depth
	// 16). The order changes node numbers only: a node's split depends on
	// its rows and bounds alone.
	stack := []open{root}
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &nodes[o.id]
		n.weight = g.weight(o.sum, o.lower, o.upp)
		n.hess = o.sum.h
		n.left, n.right = -1, -1
		var c candidate
		ok := false
		if o.hist != nil {
			c, ok = g.bestSplit(&o)
		}
		if !ok {
			n.leaf = float32(g.cfg.Eta * n.weight)
			for _, r := range o.rows {
				g.pred[r] += n.leaf
			}
			g.putHist(o.hist)
			continue
		}
		li, ri := int32(len(nodes)), int32(len(nodes)+1)
		n.left, n.right = li, ri
		n.feature = int32(c.feature)
		n.bin = uint16(c.bin)
		n.threshold = g.q.cuts[c.feature][c.bin]
		n.defaultLeft = c.defaultLeft
		n.gain = c.gain
		nodes = append(nodes, node{parent: o.id}, node{parent: o.id})

		left, right := g.partition(o.rows, c)
		lo := open{id: li, rows: left, sum: c.left, depth: o.depth + 1, lower: o.lower, upp: o.upp}
		ro := open{id: ri, rows: right, sum: c.right, depth: o.depth + 1, lower: o.lower, upp: o.upp}
		// XGBoost's TreeEvaluator::AddSplit: a constrained split bounds
		// the weights below each child by the mean of the two.
		mid := (c.wl + c.wr) / 2
		switch g.monotone[c.feature] {
		case -1:
			lo.lower, ro.upp = mid, mid
		case 1:
			lo.upp, ro.lower = mid, mid
		}
		if o.depth+1 < g.cfg.MaxDepth {
			// Build the smaller child's histogram; the larger one's is
			// the parent's minus it.
			small, large := &lo, &ro
			if len(right) < len(left) {
				small, large = &ro, &lo
			}
			small.hist = g.getHist()
			g.buildHist(small.hist, small.rows)
			large.hist = o.hist
			for i, p := range small.hist {
				large.hist[i] = large.hist[i].sub(p)
			}
		} else {
			g.putHist(o.hist)
		}
		stack = append(stack, ro, lo) // left first
	}
	return nodes
}

// goesLeft reports where a row with bin b goes at a split after value bin
// split (bins are value bin + 1; 0 is missing).
func goesLeft(b uint16, split uint16, defaultLeft bool) bool {
	if b == 0 {
		return defaultLeft
	}
	return b-1 <= split
}

// partition splits rows (ascending) into those going left and right, in
// place, both ascending.
func (g *grower) partition(rows []int32, c candidate) (left, right []int32) {
	nl, nr := 0, 0
	tmp := g.scratch[:len(rows)]
	split := uint16(c.bin)
	for _, r := range rows {
		if goesLeft(g.bins[int(r)*g.nf+c.feature], split, c.defaultLeft) {
			rows[nl] = r
			nl++
		} else {
			tmp[nr] = r
			nr++
		}
	}
	copy(rows[nl:], tmp[:nr])
	return rows[:nl], rows[nl:]
}

// bestSplit finds the split of o with the largest gain above Gamma (and
// XGBoost's kRtEps), if any. Ties go to the lower feature, then the lower
// bin, then missing values going right.
func (g *grower) bestSplit(o *open) (candidate, bool) {
	const rtEps = 1e-6
	mcw := g.cfg.MinChildWeight
	if o.sum.h < 2*mcw {
		return candidate{}, false
	}
	parentGain := g.gainGiven(o.sum, g.weight(o.sum, o.lower, o.upp))
	best := candidate{gain: max(g.cfg.Gamma, rtEps)}
	found := false
	try := func(f, b int, left gradPair, defaultLeft bool) {
		right := o.sum.sub(left)
		if left.h < mcw || right.h < mcw {
			return
		}
		wl := g.weight(left, o.lower, o.upp)
		wr := g.weight(right, o.lower, o.upp)
		switch g.monotone[f] {
		case -1:
			if wl < wr {
				return
			}
		case 1:
			if wl > wr {
				return
			}
		}
		gain := g.gainGiven(left, wl) + g.gainGiven(right, wr) - parentGain
		if gain > best.gain {
			best = candidate{feature: f, bin: b, defaultLeft: defaultLeft, gain: gain, left: left, right: right, wl: wl, wr: wr}
			found = true
		}
	}
	for f := range g.nf {
		h := o.hist[g.q.offs[f] : g.q.offs[f]+len(g.q.cuts[f])+2]
		missing := h[0]
		values := h[1:]
		var acc gradPair
		for b := 0; b < len(values)-1; b++ {
			acc = acc.add(values[b])
			if values[b].h == 0 && b > 0 {
				// An empty bin gives the same split as the one before.
				continue
			}
			if missing.h == 0 {
				// No missing values here: send future ones to the larger
				// side.
				try(f, b, acc, acc.h >= o.sum.h-acc.h)
				continue
			}
			try(f, b, acc, false)
			try(f, b, acc.add(missing), true)
		}
	}
	return best, found
}
