package etl

import (
	"math"
	"slices"

	"github.com/pricestream/pricestream/internal/record"
)

// Window state in compact rows. The aggregates of a window are grouped by
// span (the panes they cover): click-features has 14 over its 100 s
// window, one over 5 minutes and two over an hour. A key keeps, per span
// group, the panes that group still covers as rows of 8-byte words in one
// slice: the pane's start, then each aggregate's words (a count or sum
// one, an avg two, a min or max one value cell, a last a value cell and
// its event time; an approximate distinct count none, its sketch is kept
// beside the words). So a pane older than the window holds only the words
// of the aggregates whose span still covers it: 16 bytes a pane for
// click-features' hour, where a pane of a partial per aggregate took 1.3 KB.
//
// The window's group (span = the window) also holds each pane's newest
// record's position (for a row's source_position), and the widest group
// each pane's latest arrival (for its ingest_time).
//
// A value cell holds a value of the kind its aggregate's type names
// (double, long, int, timestamp, date, bool) as its bits: 0 is null, and
// any other value (a string, a number with its source text, another kind
// than the type's) is spilled to a slice of values beside the words,
// which the cell marks with 1.

// spanGroup is the aggregates of one span.
type spanGroup struct {
	panes   int   // span / slide
	aggs    []int // indexes into windowDef.aggs
	stride  int   // words per pane: the start, then the aggregates' words and the meta
	arrival int   // word of the pane's latest arrival (the widest group), or 0: none
	last    int   // first of 3 words of the pane's newest record's srcMeta (the window's group), or 0
	nvals   int   // value cells: spilled values per pane
	nhll    int   // approximate distinct counts: sketches per pane
	maxRows int   // the most panes a key keeps in the group (a bound for growth)
	// pre is the offset of the group's merged panes in keyState.pre, or
	// -1: the group keeps none (see mergedPanes).
	pre int
}

// paneRun is one span group's panes of one key, by start ascending.
type paneRun struct {
	w   []uint64 // stride words per pane
	ext *runExt  // nil until the group has a sketch or a spilled value
}

type runExt struct {
	vals []record.Value // nvals per pane, or nil: none spilled
	hlls []*hll         // nhll per pane
}

// cellKey is xor-ed into a value cell's bits so that 0 and 1 can mark
// null and a spilled value.
const cellKey = 0x9e3779b97f4a7c15

// paneRow is one pane's row of one span group of a key.
type paneRow struct {
	g   *spanGroup
	run *paneRun
	i   int      // row index
	w   []uint64 // the row's words; nil: the group does not cover the pane
}

// setGroups groups the window's aggregates by span and lays out their
// words; the window's span has a group even with no aggregate over it.
func (d *windowDef) setGroups() {
	win := int(d.size / d.slide)
	spans := []int{win}
	for i := range d.aggs {
		spans = append(spans, d.aggs[i].panes)
	}
	slices.Sort(spans)
	spans = slices.Compact(spans)
	ahead := int((d.lateness+d.slide-1)/d.slide) + 2
	d.groups = make([]spanGroup, len(spans))
	for gi, n := range spans {
		d.groups[gi] = spanGroup{panes: n, stride: 1, maxRows: n + ahead}
		if n == win {
			d.winGroup = gi
		}
	}
	d.wideGroup = len(spans) - 1
	for i := range d.aggs {
		a := &d.aggs[i]
		for gi := range d.groups {
			if d.groups[gi].panes == a.panes {
				a.group = gi
			}
		}
		g := &d.groups[a.group]
		g.aggs = append(g.aggs, i)
		a.off = g.stride
		switch a.kind {
		case aggCount, aggCountIf, aggSum, aggMin, aggMax:
			g.stride++
		case aggAvg, aggLast:
			g.stride += 2
		}
		switch a.kind {
		case aggMin, aggMax, aggLast:
			a.vslot = g.nvals
			g.nvals++
			a.cell = record.KindNull
			switch k := a.typ.Kind; k {
			case record.KindDouble, record.KindLong, record.KindInt, record.KindTimestamp, record.KindDate, record.KindBool:
				a.cell = k
			}
			a.direct = a.bare != nil && a.cell != record.KindNull && a.cell == bareCell[a.bare.kind]
		case aggDistinct:
			a.hslot = g.nhll
			g.nhll++
		}
	}
	wide, w := &d.groups[d.wideGroup], &d.groups[d.winGroup]
	wide.arrival = wide.stride
	wide.stride++
	w.last = w.stride
	w.stride += 3
	d.arrival, d.last = wide.arrival, w.last
	for i := range d.aggs {
		d.aggs[i].stride = d.groups[d.aggs[i].group].stride
	}
	// A group over many panes keeps the merge of its older panes (their
	// row, the newest's start and a state word): not one with sketches,
	// whose merge would be a sketch of its own.
	d.preWords = 0
	for gi := range d.groups {
		g := &d.groups[gi]
		g.pre = -1
		if g.panes >= minMergedPanes && g.nhll == 0 && len(g.aggs) > 0 {
			g.pre = d.preWords
			d.preWords += g.stride + 2
		}
	}
}

// minMergedPanes is the fewest panes a group spans for its older panes'
// merge to be kept: over fewer, reading the rows costs no more than
// reading the merge and the newest.
const minMergedPanes = 3

// The merged panes of a group of a key (keyState.pre at the group's pre
// offset): a row of the group's layout holding the merge of rows [lo, n)
// of its run, then the start of row n (the newest when merged) and the
// state: preValid, preSpilled (the merge is of no use: a value in those
// rows is spilled, or its result is not a cell's) or 0 (none).
const (
	preValid   = 1
	preSpilled = 2
)

// mergeRows sets dst, a row of group g's layout, to the merge of rows
// [lo, hi) of run for the group's aggregates: over dst and any later row,
// result then gives what it gives over rows lo onwards. It reports false
// where a value of those rows is spilled or a result is not a cell's.
func (d *windowDef) mergeRows(dst []uint64, run *paneRun, g *spanGroup, lo, hi int, scratch *hll) bool {
	clear(dst)
	dst[0] = run.w[lo*g.stride]
	for _, ai := range g.aggs {
		a := &d.aggs[ai]
		switch a.kind {
		case aggCount, aggCountIf:
			dst[a.off] = uint64(a.result(run, g, lo, hi, scratch).Long())
		case aggSum: // summed in result's order: the later rows add to it
			dst[a.off] = math.Float64bits(a.result(run, g, lo, hi, scratch).Double())
		case aggAvg:
			var n uint64
			var f float64
			for i := lo; i < hi; i++ {
				n += run.w[i*g.stride+a.off]
				f += math.Float64frombits(run.w[i*g.stride+a.off+1])
			}
			dst[a.off], dst[a.off+1] = n, math.Float64bits(f)
		case aggMin, aggMax:
			v := a.result(run, g, lo, hi, scratch)
			if v.IsNull() {
				continue
			}
			if a.cell == record.KindNull || v.Kind() != a.cell {
				return false
			}
			n := v.Bits()
			if record.FromBits(a.cell, n) != v || n^cellKey <= 1 {
				return false
			}
			dst[a.off] = n ^ cellKey
		case aggLast:
			best, bt := -1, int64(0) // result's choice: the latest, the later row of equal times
			for i := lo; i < hi; i++ {
				if w := run.w[i*g.stride+a.off:]; w[0] != 0 && (best < 0 || int64(w[1]) >= bt) {
					best, bt = i, int64(w[1])
				}
			}
			if best < 0 {
				continue
			}
			w := run.w[best*g.stride+a.off:]
			if w[0] == 1 {
				return false
			}
			dst[a.off], dst[a.off+1] = w[0], w[1]
		default:
			return false
		}
	}
	return true
}

func (r *paneRun) rows(g *spanGroup) int { return len(r.w) / g.stride }

func (r *paneRun) start(g *spanGroup, i int) int64 { return int64(r.w[i*g.stride]) }

func (r *paneRun) row(g *spanGroup, i int) paneRow {
	return paneRow{g: g, run: r, i: i, w: r.w[i*g.stride : (i+1)*g.stride : (i+1)*g.stride]}
}

// find returns the index of start's row, or where it would go.
func (r *paneRun) find(g *spanGroup, start int64) (int, bool) {
	n := r.rows(g)
	if n > 0 { // the newest: events mostly come in time order
		switch s := r.start(g, n-1); {
		case s == start:
			return n - 1, true
		case s < start:
			return n, false
		}
	}
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.start(g, m) < start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < n && r.start(g, lo) == start
}

// upTo returns the index of the first row starting at or after t.
func (r *paneRun) upTo(g *spanGroup, t int64) int {
	i := len(r.w)
	for i > 0 && int64(r.w[i-g.stride]) >= t {
		i -= g.stride
	}
	return i / g.stride
}

// insert inserts an empty row for start at index i.
func (r *paneRun) insert(g *spanGroup, i int, start int64) {
	n := len(r.w)
	if n+g.stride > cap(r.w) {
		rows := n / g.stride
		grown := min(max(2*rows, 1), g.maxRows)
		if grown <= rows {
			grown = rows + 1
		}
		w := make([]uint64, n, grown*g.stride)
		copy(w, r.w)
		r.w = w
	}
	r.w = r.w[:n+g.stride]
	copy(r.w[(i+1)*g.stride:], r.w[i*g.stride:n])
	clear(r.w[i*g.stride : (i+1)*g.stride])
	r.w[i*g.stride] = uint64(start)
	if g.nhll > 0 && r.ext == nil {
		r.ext = &runExt{}
	}
	if r.ext != nil {
		r.ext.hlls = insertZeros(r.ext.hlls, i*g.nhll, g.nhll)
		if r.ext.vals != nil {
			r.ext.vals = insertZeros(r.ext.vals, i*g.nvals, g.nvals)
		}
	}
}

func insertZeros[T any](s []T, i, n int) []T {
	if n == 0 {
		return s
	}
	s = append(s, make([]T, n)...)
	copy(s[i+n:], s[i:])
	clear(s[i : i+n])
	return s
}

func dropFront[T any](s []T, n int) []T {
	if n == 0 || s == nil {
		return s
	}
	k := copy(s, s[n:])
	clear(s[k:])
	return s[:k]
}

// dropFront removes the oldest k rows.
func (r *paneRun) dropFront(g *spanGroup, k int) {
	if k*g.stride == len(r.w) { // all: give the memory back
		r.w, r.ext = nil, nil
		return
	}
	r.w = dropFront(r.w, k*g.stride)
	if r.ext != nil {
		r.ext.hlls = dropFront(r.ext.hlls, k*g.nhll)
		r.ext.vals = dropFront(r.ext.vals, k*g.nvals)
	}
}

// bareCell is the kind of the values addBare folds of a bare field of
// each fast-path kind (KindNull: not one a cell holds).
var bareCell = [...]record.Kind{fkBool: record.KindBool, fkInt: record.KindLong, fkNum: record.KindDouble, fkTime: record.KindTimestamp, fkStr: record.KindNull}

// value returns the value of aggregate a's cell in the row.
func (a *aggDef) value(p *paneRow) record.Value {
	return a.valueAt(p.run, p.g, p.i)
}

// valueAt returns the value of aggregate a's cell in row i of a run.
func (a *aggDef) valueAt(run *paneRun, g *spanGroup, i int) record.Value {
	switch c := run.w[i*g.stride+a.off]; c {
	case 0:
		return record.NullValue()
	case 1:
		return run.ext.vals[i*g.nvals+a.vslot]
	default:
		if a.cell == record.KindDouble { // the common case, without a call
			return record.DoubleValue(math.Float64frombits(c ^ cellKey))
		}
		return record.FromBits(a.cell, c^cellKey)
	}
}

// setCell sets aggregate a's cell in the row to c, a value's cell bits
// (record.Value.Bits) xor cellKey, greater than 1: setValue's case of a value the
// cell holds, for a caller that knows the value is one (a.direct).
func (a *aggDef) setCell(p *paneRow, c uint64) {
	if p.w[a.off] == 1 {
		p.run.ext.vals[p.i*p.g.nvals+a.vslot] = record.Value{}
	}
	p.w[a.off] = c
}

// setValue sets aggregate a's cell in the row to v (not null). A spilled
// value is a copy that owns its strings ([record.Value.Owned]): v may
// alias the event's input, which records decoded in place do and window
// state outlives (and a kept alias would keep the whole engine message in
// memory). A scalar equal to the one spilled there already, its number
// text included, is not copied again: a last of a string that repeats
// costs no allocation.
func (a *aggDef) setValue(p *paneRow, v record.Value) {
	if a.cell != record.KindNull && v.Kind() == a.cell {
		if n := v.Bits(); record.FromBits(a.cell, n) == v && n^cellKey > 1 {
			a.setCell(p, n^cellKey)
			return
		}
	}
	if p.run.ext == nil {
		p.run.ext = &runExt{}
	}
	if p.run.ext.vals == nil {
		p.run.ext.vals = make([]record.Value, p.run.rows(p.g)*p.g.nvals)
	}
	slot := &p.run.ext.vals[p.i*p.g.nvals+a.vslot]
	if p.w[a.off] == 1 && sameScalar(*slot, v) {
		return
	}
	p.w[a.off] = 1
	*slot = v.Owned()
}

// sameScalar reports whether a and b are the same scalar value with the
// same number text, so that either may stand for the other.
func sameScalar(a, b record.Value) bool {
	switch b.Kind() {
	case record.KindStruct, record.KindArray, record.KindMap:
		return false
	case record.KindDouble: // bit for bit: Equal takes -0 for 0
		return a.Kind() == record.KindDouble && math.Float64bits(a.Double()) == math.Float64bits(b.Double()) && a.NumberText() == b.NumberText()
	}
	return a.Equal(b) && a.NumberText() == b.NumberText()
}

// sketch returns where aggregate a's sketch of the row is kept.
func (a *aggDef) sketch(p *paneRow) **hll {
	return &p.run.ext.hlls[p.i*p.g.nhll+a.hslot]
}

// partialOf returns aggregate a's state in the row in the form of version
// 1 checkpoints (a zero partial when the group does not cover the pane).
func (a *aggDef) partialOf(p *paneRow) partial {
	var pt partial
	if p.w == nil {
		return pt
	}
	switch a.kind {
	case aggCount, aggCountIf:
		pt.n = int64(p.w[a.off])
	case aggSum:
		pt.f = math.Float64frombits(p.w[a.off])
	case aggAvg:
		pt.n, pt.f = int64(p.w[a.off]), math.Float64frombits(p.w[a.off+1])
	case aggMin, aggMax:
		pt.v = a.value(p)
	case aggLast:
		pt.v, pt.t = a.value(p), int64(p.w[a.off+1])
	case aggDistinct:
		pt.hll = *a.sketch(p)
	}
	return pt
}

// setPartial sets aggregate a's state in the row from a partial.
func (a *aggDef) setPartial(p *paneRow, pt *partial) {
	switch a.kind {
	case aggCount, aggCountIf:
		p.w[a.off] = uint64(pt.n)
	case aggSum:
		p.w[a.off] = math.Float64bits(pt.f)
	case aggAvg:
		p.w[a.off], p.w[a.off+1] = uint64(pt.n), math.Float64bits(pt.f)
	case aggMin, aggMax, aggLast:
		if !pt.v.IsNull() {
			a.setValue(p, pt.v)
		}
		if a.kind == aggLast {
			p.w[a.off+1] = uint64(pt.t)
		}
	case aggDistinct:
		*a.sketch(p) = pt.hll
	}
}
