package etl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"

	"github.com/pricestream/pricestream/internal/record"
)

// The binary form of a partition's window state, for checkpoints: the
// watermark's inputs, then every key in key order with its panes and their
// partials. Values are written as a kind byte and a payload.
//
// Version 2 (written now; version 1 is still read) writes a key's pane
// starts in slides, the first whole and each next as the gap from the one
// before (a byte where version 1 wrote a 9-byte time), and each partial as
// a byte saying which of its fields are set, then those only (a count's
// partial is its count, where version 1 wrote every field). It cut
// click-features' state to a fifth (BenchmarkETLWindowStateSize).

const stateVersion = 2

// partial fields set, version 2.
const (
	partN byte = 1 << iota
	partF
	partV
	partT
	partHLL
)

type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) f64(f float64)    { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }
func (e *enc) bool(b bool) {
	if b {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *enc) value(v record.Value) {
	e.b = append(e.b, byte(v.Kind()))
	switch v.Kind() {
	case record.KindBool:
		e.bool(v.Bool())
	case record.KindInt, record.KindLong, record.KindTimestamp, record.KindDate:
		if v.Kind() == record.KindDate {
			e.varint(v.Days())
		} else if v.Kind() == record.KindTimestamp {
			e.varint(v.UnixNano())
		} else {
			e.varint(v.Long())
		}
	case record.KindDouble:
		e.f64(v.Double())
		e.str(v.NumberText())
	case record.KindDecimal:
		n, scale := v.Decimal()
		e.varint(int64(scale))
		e.str(n.String())
	case record.KindString, record.KindBinary:
		e.str(v.Str())
	case record.KindStruct, record.KindMap:
		r := v.Struct()
		if r == nil {
			r = v.Map()
		}
		e.uvarint(uint64(r.Len()))
		for _, f := range r.Fields() {
			e.str(f.Name)
			e.value(f.Value)
		}
	case record.KindArray:
		arr := v.Array()
		e.uvarint(uint64(len(arr)))
		for _, x := range arr {
			e.value(x)
		}
	}
}

var errCorrupt = errors.New("etl: corrupt checkpoint")

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) f64() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *dec) bool() bool {
	if len(d.b) < 1 {
		d.fail()
		return false
	}
	b := d.b[0] != 0
	d.b = d.b[1:]
	return b
}

func (d *dec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every element takes at least a byte
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) value(depth int) record.Value {
	if len(d.b) < 1 || depth > 64 {
		d.fail()
		return record.Value{}
	}
	k := record.Kind(d.b[0])
	d.b = d.b[1:]
	switch k {
	case record.KindNull:
		return record.Value{}
	case record.KindBool:
		return record.BoolValue(d.bool())
	case record.KindInt:
		return record.IntValue(int32(d.varint()))
	case record.KindLong:
		return record.LongValue(d.varint())
	case record.KindTimestamp:
		return record.TimestampNanos(d.varint())
	case record.KindDate:
		return record.DateValue(d.varint())
	case record.KindDouble:
		f := d.f64()
		if t := d.str(); t != "" {
			return record.NumberValue(f, t)
		}
		return record.DoubleValue(f)
	case record.KindDecimal:
		scale := d.varint()
		n, ok := new(big.Int).SetString(d.str(), 10)
		if !ok || scale < 0 || scale > 38 {
			d.fail()
			return record.Value{}
		}
		return record.DecimalBig(n, int(scale))
	case record.KindString:
		return record.StringValue(d.str())
	case record.KindBinary:
		return record.BinaryString(d.str())
	case record.KindStruct, record.KindMap:
		n := d.count()
		r := record.New(n)
		for range n {
			name := d.str()
			r.Append(name, d.value(depth+1))
		}
		if k == record.KindMap {
			return record.MapValue(r)
		}
		return record.StructValue(r)
	case record.KindArray:
		n := d.count()
		out := make([]record.Value, n)
		for i := range out {
			out[i] = d.value(depth + 1)
		}
		return record.ArrayValue(out)
	}
	d.fail()
	return record.Value{}
}

func (e *enc) meta(m srcMeta) {
	e.uvarint(uint64(m.partition))
	e.uvarint(m.seq)
	e.uvarint(uint64(m.index))
	e.varint(m.arrival)
}

func (d *dec) meta() srcMeta {
	return srcMeta{partition: int(d.uvarint()), seq: d.uvarint(), index: uint32(d.uvarint()), arrival: d.varint()}
}

// appendState appends the whole window state, and starts a new
// incremental period: what changes from now on goes in the next delta.
func (w *windowOp) appendState(dst []byte) []byte {
	dst = w.encodeState(dst)
	w.resetChanges()
	return dst
}

// encodeState appends the whole window state.
func (w *windowOp) encodeState(dst []byte) []byte {
	e := enc{b: dst}
	e.uvarint(stateVersion)
	e.uvarint(uint64(len(w.def.aggs)))
	e.varint(w.maxEvent)
	e.varint(w.closed)
	names := slices.Sorted(maps.Keys(w.keys))
	e.uvarint(uint64(len(names)))
	for _, k := range names {
		ks := w.keys[k]
		e.keyHead(ks)
		g, run := &w.def.groups[w.def.wideGroup], &ks.runs[w.def.wideGroup]
		e.uvarint(uint64(run.rows(g)))
		prev := int64(0)
		for i := range run.rows(g) {
			start := run.start(g, i)
			e.paneStart(&prev, start, w.def.slide, i == 0, false)
			e.paneBody(w.paneAt(ks, start))
		}
	}
	return e.b
}

// paneStart writes a pane's start, version 2: in slides, the first pane's
// whole and each next one's as the gap from prev, shifted left by one
// with flag in the low bit (a delta's "changed"; always 0 in a state).
func (e *enc) paneStart(prev *int64, start, slide int64, first, flag bool) {
	b := uint64(0)
	if flag {
		b = 1
	}
	if first {
		e.varint(start / slide)
		e.b = append(e.b, byte(b))
	} else {
		e.uvarint(uint64((start-*prev)/slide)<<1 | b)
	}
	*prev = start
}

// v1PaneStart reads a pane's start as version 1 wrote it, whole: the
// panes of a key start at multiples of the slide, in ascending order.
func (d *dec) v1PaneStart(prev *int64, slide int64, first bool) int64 {
	start := d.varint()
	if start%slide != 0 || (!first && start <= *prev) {
		d.fail()
	}
	*prev = start
	return start
}

// paneStart reads a pane's start as enc.paneStart wrote it, and its flag.
func (d *dec) paneStart(prev *int64, slide int64, first bool) (start int64, flag bool) {
	if first {
		start = d.varint() * slide
		flag = d.bool()
	} else {
		g := d.uvarint()
		start, flag = *prev+int64(g>>1)*slide, g&1 == 1
		if start <= *prev {
			d.fail()
		}
	}
	*prev = start
	return start, flag
}

// A state capture is a copy of what a checkpoint writes of the window
// state as it was at one point of the partition's records, so that
// encoding it (the larger cost, tens of milliseconds for a full state of
// thousands of keys) runs in the background while the worker goes on.
//
// Copying thousands of keys is itself milliseconds of the worker's time,
// which the partition's records would wait for, so a capture is taken
// copy-on-write: beginCapture only notes the keys it takes (every key, or
// those changed since the last checkpoint) and their count; a key is
// copied when the worker is about to change it (touch, which every change
// of a key's state goes through first), or by captureStep, which the
// worker calls in slices between its records; once every key is copied,
// finishCapture hands the copy over. So the worker is held up by the
// marking (a pointer write per key) and slices of copying it chooses,
// never by the whole copy. A key that is not copied yet has not changed
// since the capture began, so its copy, whenever taken, is as it was then.

// capture is a window state capture in progress (see above). It belongs to
// the partition's worker, like the state.
type capture struct {
	full             bool
	maxEvent, closed int64
	gone             map[string]struct{} // a delta's keys dropped
	src              []*keyState         // the keys taken, as they are live
	keys             []*keyState         // their copies, once taken (nil before)
	next             int                 // src[:next] are copied
	left             int                 // keys not copied yet
}

// beginCapture starts a capture of the whole state (full) or of what
// changed since the last capture, and forgets what changed: what changes
// from now on goes in the next one. Only one capture is in progress at a
// time.
func (w *windowOp) beginCapture(full bool) {
	if w.cap != nil {
		panic("etl: a window state capture is already in progress")
	}
	c := &capture{full: full, maxEvent: w.maxEvent, closed: w.closed}
	if full {
		c.src = make([]*keyState, 0, len(w.keys))
		for _, ks := range w.keys {
			c.src = append(c.src, ks)
		}
		clear(w.gone)
	} else {
		c.src = make([]*keyState, 0, len(w.changed))
		for _, ks := range w.changed {
			if w.keys[ks.key] == ks { // not dropped since it changed
				c.src = append(c.src, ks)
			}
		}
		c.gone, w.gone = w.gone, c.gone
		if w.gone == nil {
			w.gone = map[string]struct{}{}
		}
	}
	// The keys in changed that were dropped are not taken: nothing
	// touches them again.
	clear(w.changed)
	w.changed = w.changed[:0]
	c.keys = make([]*keyState, len(c.src))
	for i, ks := range c.src {
		ks.snap, ks.snapAt = c, int32(i)
	}
	c.left = len(c.src)
	w.cap = c
}

// copyKey copies a key a capture took and has not copied yet, and starts
// its new incremental period.
func (c *capture) copyKey(ks *keyState) {
	c.keys[ks.snapAt] = ks.clone()
	ks.snap = nil
	ks.touched = false
	ks.dirtyFrom = math.MaxInt64
	c.left--
}

// captureStep copies up to n keys of the capture in progress and reports
// whether every key is copied (true when there is no capture).
func (w *windowOp) captureStep(n int) bool {
	c := w.cap
	if c == nil {
		return true
	}
	for ; c.next < len(c.src) && n > 0 && c.left > 0; c.next++ {
		if ks := c.src[c.next]; ks.snap == c {
			c.copyKey(ks)
			n--
		}
	}
	return c.left == 0
}

// capturing reports whether a capture is in progress.
func (w *windowOp) capturing() bool { return w.cap != nil }

// finishCapture copies what the capture in progress has not copied yet and
// returns the copy: a window operator to encode with encodeState (full)
// or appendDelta, which shares nothing with w.
func (w *windowOp) finishCapture() *windowOp {
	c := w.cap
	w.captureStep(math.MaxInt)
	w.cap = nil
	out := &windowOp{def: w.def, keys: make(map[string]*keyState, len(c.keys)), maxEvent: c.maxEvent, closed: c.closed, gone: c.gone}
	if out.gone == nil {
		out.gone = map[string]struct{}{}
	}
	for _, ks := range c.keys {
		out.keys[ks.key] = ks
	}
	if !c.full {
		out.changed = c.keys
	}
	return out
}

// captureFull returns a copy of the whole state for encodeState, and
// forgets what changed.
func (w *windowOp) captureFull() *windowOp {
	w.beginCapture(true)
	return w.finishCapture()
}

// captureDelta returns a copy of the changes since the last checkpoint for
// appendDelta, and forgets them.
func (w *windowOp) captureDelta() *windowOp {
	w.beginCapture(false)
	return w.finishCapture()
}

// keyCopy is a key's copy with its runs, in one allocation where the
// key's span groups are few.
type keyCopy struct {
	ks   keyState
	runs [4]paneRun
}

// clone returns a copy of ks that shares nothing that changes with it:
// the key's values, which never change, are shared. The copy is to be
// read (encoded), not changed: its runs' words are one allocation, each
// run's a slice of it without room to grow.
func (ks *keyState) clone() *keyState {
	kc := &keyCopy{ks: *ks}
	c := &kc.ks
	c.snap = nil
	c.pre = nil // derived: the copy merges its own
	if len(ks.runs) <= len(kc.runs) {
		c.runs = kc.runs[:len(ks.runs)]
	} else {
		c.runs = make([]paneRun, len(ks.runs))
	}
	n := 0
	for i := range ks.runs {
		n += len(ks.runs[i].w)
	}
	words := make([]uint64, n)
	for i := range ks.runs {
		r := &ks.runs[i]
		if r.w != nil {
			k := copy(words, r.w)
			c.runs[i].w, words = words[:k:k], words[k:]
		}
		if r.ext != nil {
			ext := &runExt{vals: slices.Clone(r.ext.vals)}
			if r.ext.hlls != nil {
				ext.hlls = make([]*hll, len(r.ext.hlls))
				for j, h := range r.ext.hlls {
					if h != nil {
						ext.hlls[j] = h.clone()
					}
				}
			}
			c.runs[i].ext = ext
		}
	}
	return c
}

// resetChanges forgets what changed: the state as it is now is in a
// checkpoint.
func (w *windowOp) resetChanges() {
	for _, ks := range w.changed {
		ks.touched = false
		ks.dirtyFrom = math.MaxInt64
	}
	clear(w.changed)
	w.changed = w.changed[:0]
	clear(w.gone)
}

// The binary form of a delta: the window state's changes since the
// previous checkpoint (full or delta). Applied in order on top of a full
// state, the deltas give the state as it was when the last was taken.
//
//	uvarint deltaVersion, uvarint aggregates, varint maxEvent, varint closed
//	uvarint n, n keys dropped
//	uvarint n, n changed keys: the key's head (as in the full state), then
//	  uvarint panes, for each: its start with a changed flag (paneStart;
//	  version 1: varint start, bool changed), and when changed the pane
//	  (as in the full state); an unchanged pane is kept as it was
const deltaVersion = 2 // version 1 is still read (see stateVersion)

// appendDelta appends the changes since the last checkpoint and starts a
// new incremental period.
func (w *windowOp) appendDelta(dst []byte) []byte {
	e := enc{b: dst}
	e.uvarint(deltaVersion)
	e.uvarint(uint64(len(w.def.aggs)))
	e.varint(w.maxEvent)
	e.varint(w.closed)
	gone := slices.Sorted(maps.Keys(w.gone))
	e.uvarint(uint64(len(gone)))
	for _, k := range gone {
		e.str(k)
	}
	live := w.changed[:0:0]
	for _, ks := range w.changed {
		if w.keys[ks.key] == ks { // not dropped since it changed
			live = append(live, ks)
		}
	}
	e.uvarint(uint64(len(live)))
	for _, ks := range live {
		e.keyHead(ks)
		g, run := &w.def.groups[w.def.wideGroup], &ks.runs[w.def.wideGroup]
		e.uvarint(uint64(run.rows(g)))
		prev := int64(0)
		for i := range run.rows(g) {
			start := run.start(g, i)
			e.paneStart(&prev, start, w.def.slide, i == 0, start >= ks.dirtyFrom)
			if start >= ks.dirtyFrom {
				e.paneBody(w.paneAt(ks, start))
			}
		}
	}
	w.resetChanges()
	return e.b
}

func (e *enc) keyHead(ks *keyState) {
	e.str(ks.key)
	e.uvarint(uint64(len(ks.vals)))
	for _, v := range ks.vals {
		e.value(v)
	}
	e.varint(ks.lastEmitEnd)
	e.varint(ks.lastEmit)
	e.bool(ks.pending)
	e.varint(ks.pendingEnd)
}

func (d *dec) keyHead(ks *keyState) {
	ks.key = d.str()
	nv := d.count()
	ks.vals = make([]record.Value, 0, nv)
	for range nv {
		ks.vals = append(ks.vals, d.value(0))
	}
	ks.lastEmitEnd = d.varint()
	ks.lastEmit = d.varint()
	ks.pending = d.bool()
	ks.pendingEnd = d.varint()
}

// paneState is a pane of a key in the form of version 1 checkpoints: a
// partial per aggregate (zero where the aggregate's span no longer covers
// the pane), the latest arrival and the newest record's position.
type paneState struct {
	maxArrival int64
	last       srcMeta
	parts      []partial
}

// paneAt returns the pane of ks starting at start, which its widest span
// group holds. The pane is the operator's (a checkpoint encodes one pane
// after another, every key's): valid until the next call.
func (w *windowOp) paneAt(ks *keyState, start int64) *paneState {
	d := w.def
	w.paneBuf = w.appendRows(w.paneBuf[:0], ks, start)
	rows := w.paneBuf
	p := &w.pane
	if cap(p.parts) < len(d.aggs) {
		p.parts = make([]partial, len(d.aggs))
	}
	p.parts = p.parts[:len(d.aggs)]
	for i := range d.aggs {
		p.parts[i] = d.aggs[i].partialOf(&rows[d.aggs[i].group])
	}
	p.maxArrival, p.last = 0, srcMeta{}
	if r := rows[d.wideGroup]; r.w != nil {
		p.maxArrival = int64(r.w[r.g.arrival])
	}
	if r := rows[d.winGroup]; r.w != nil {
		p.last = getMeta(r.w[r.g.last:])
	}
	return p
}

// rowsAt returns the rows of ks's pane starting at start per span group
// (without words where the group holds none).
func (w *windowOp) rowsAt(ks *keyState, start int64) []paneRow {
	return w.appendRows(make([]paneRow, 0, len(w.def.groups)), ks, start)
}

// appendRows appends rowsAt's rows to dst.
func (w *windowOp) appendRows(dst []paneRow, ks *keyState, start int64) []paneRow {
	d := w.def
	for gi := range d.groups {
		g, run := &d.groups[gi], &ks.runs[gi]
		var r paneRow
		if i, ok := run.find(g, start); ok {
			r = run.row(g, i)
		}
		dst = append(dst, r)
	}
	return dst
}

// putPane sets ks's pane starting at start, in the span groups that cover
// it.
func (w *windowOp) putPane(ks *keyState, start int64, p *paneState) {
	d := w.def
	w.paneRows(make([]int, len(d.groups)), nil, ks, start)
	rows := w.rowsAt(ks, start)
	for i := range d.aggs {
		if r := &rows[d.aggs[i].group]; r.w != nil {
			d.aggs[i].setPartial(r, &p.parts[i])
		}
	}
	if r := rows[d.wideGroup]; r.w != nil {
		r.w[r.g.arrival] = uint64(p.maxArrival)
	}
	if r := rows[d.winGroup]; r.w != nil {
		setMeta(r.w[r.g.last:], p.last)
	}
}

// paneBody writes a pane, version 2.
func (e *enc) paneBody(p *paneState) {
	e.varint(p.maxArrival)
	e.meta(p.last)
	for i := range p.parts {
		pt := &p.parts[i]
		var set byte
		if pt.n != 0 {
			set |= partN
		}
		if math.Float64bits(pt.f) != 0 {
			set |= partF
		}
		if pt.v.Kind() != record.KindNull {
			set |= partV
		}
		if pt.t != 0 {
			set |= partT
		}
		if pt.hll != nil {
			set |= partHLL
		}
		e.b = append(e.b, set)
		if set&partN != 0 {
			e.varint(pt.n)
		}
		if set&partF != 0 {
			e.f64(pt.f)
		}
		if set&partV != 0 {
			e.value(pt.v)
		}
		if set&partT != 0 {
			e.varint(pt.t)
		}
		if set&partHLL != 0 {
			e.uvarint(uint64(pt.hll.nonZero()))
			pt.hll.each(func(j int, r uint8) {
				e.uvarint(uint64(j))
				e.b = append(e.b, r)
			})
		}
	}
}

// paneBody reads a pane of the given version.
func (d *dec) paneBody(naggs int, version uint64) *paneState {
	p := &paneState{maxArrival: d.varint(), last: d.meta(), parts: make([]partial, naggs)}
	for i := range p.parts {
		pt := &p.parts[i]
		if version >= 2 {
			if len(d.b) < 1 || d.b[0]&^(partN|partF|partV|partT|partHLL) != 0 {
				d.fail()
				return p
			}
			set := d.b[0]
			d.b = d.b[1:]
			if set&partN != 0 {
				pt.n = d.varint()
			}
			if set&partF != 0 {
				pt.f = d.f64()
			}
			if set&partV != 0 {
				pt.v = d.value(0)
			}
			if set&partT != 0 {
				pt.t = d.varint()
			}
			if set&partHLL != 0 {
				pt.hll = d.hll(d.uvarint())
			}
			continue
		}
		pt.n = d.varint()
		pt.f = d.f64()
		pt.v = d.value(0)
		pt.t = d.varint()
		if nz := d.uvarint(); nz > 0 {
			pt.hll = d.hll(nz - 1)
		}
	}
	return p
}

// hll reads a sketch's nz non-zero registers, as (index, value) pairs in
// index order.
func (d *dec) hll(nz uint64) *hll {
	h := &hll{}
	if nz > hllSparseMax {
		h.reg = new([hllM]uint8)
	}
	prev := -1
	for range nz {
		j := d.uvarint()
		if j >= hllM || int(j) <= prev || len(d.b) < 1 || d.b[0] == 0 {
			d.fail()
			break
		}
		prev = int(j)
		if h.reg != nil {
			h.reg[j] = d.b[0]
		} else {
			h.sp = append(h.sp, uint32(j)<<8|uint32(d.b[0]))
		}
		d.b = d.b[1:]
	}
	h.recompute()
	return h
}

// restoreState replaces the window state by the one b holds.
func (w *windowOp) restoreState(b []byte) error {
	d := dec{b: b}
	version := d.uvarint()
	if version != 1 && version != stateVersion {
		return fmt.Errorf("%w: state version %d", errCorrupt, version)
	}
	if n := d.uvarint(); int(n) != len(w.def.aggs) {
		return fmt.Errorf("%w: %d aggregates, the job has %d", errCorrupt, n, len(w.def.aggs))
	}
	w.maxEvent = d.varint()
	w.closed = d.varint()
	w.keys = map[string]*keyState{}
	w.pending = nil
	w.changed = w.changed[:0]
	clear(w.gone)
	nk := d.count()
	for range nk {
		ks := newKeyState(w.def)
		d.keyHead(ks)
		np := d.count()
		prev := int64(0)
		for i := range np {
			var start int64
			if version == 1 {
				start = d.v1PaneStart(&prev, w.def.slide, i == 0)
			} else {
				start, _ = d.paneStart(&prev, w.def.slide, i == 0)
			}
			pane := d.paneBody(len(w.def.aggs), version)
			if d.err != nil {
				return d.err // before placing a pane read from garbage
			}
			w.putPane(ks, start, pane)
		}
		if d.err != nil {
			return d.err
		}
		w.keys[ks.key] = ks
		if ks.pending {
			w.pending = append(w.pending, ks)
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the state", errCorrupt, len(d.b))
	}
	return nil
}

// applyDelta applies a delta on top of the state (restored from the full
// state and the deltas before this one).
func (w *windowOp) applyDelta(b []byte) error {
	d := dec{b: b}
	version := d.uvarint()
	if version != 1 && version != deltaVersion {
		return fmt.Errorf("%w: delta version %d", errCorrupt, version)
	}
	if n := d.uvarint(); int(n) != len(w.def.aggs) {
		return fmt.Errorf("%w: %d aggregates, the job has %d", errCorrupt, n, len(w.def.aggs))
	}
	w.maxEvent = d.varint()
	w.closed = d.varint()
	ng := d.count()
	for range ng {
		delete(w.keys, d.str())
	}
	nk := d.count()
	for range nk {
		ks := newKeyState(w.def)
		d.keyHead(ks)
		old := w.keys[ks.key]
		np := d.count()
		prev := int64(0)
		for i := range np {
			var start int64
			var changed bool
			if version == 1 {
				start = d.v1PaneStart(&prev, w.def.slide, i == 0)
				changed = d.bool()
			} else {
				start, changed = d.paneStart(&prev, w.def.slide, i == 0)
			}
			if d.err != nil {
				return d.err
			}
			if changed {
				pane := d.paneBody(len(w.def.aggs), version)
				if d.err != nil {
					return d.err
				}
				w.putPane(ks, start, pane)
				continue
			}
			if old == nil {
				return fmt.Errorf("%w: delta keeps pane %d of key %q, which the state does not hold", errCorrupt, start, ks.key)
			}
			g := &w.def.groups[w.def.wideGroup]
			if _, ok := old.runs[w.def.wideGroup].find(g, start); !ok {
				return fmt.Errorf("%w: delta keeps pane %d of key %q, which the state does not hold", errCorrupt, start, ks.key)
			}
			w.putPane(ks, start, w.paneAt(old, start))
		}
		if d.err != nil {
			return d.err
		}
		w.keys[ks.key] = ks
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes after the delta", errCorrupt, len(d.b))
	}
	// Interval emissions due, in key order as restoreState makes them.
	w.pending = w.pending[:0]
	names := make([]string, 0, len(w.keys))
	for k, ks := range w.keys {
		if ks.pending {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		w.pending = append(w.pending, w.keys[k])
	}
	return nil
}
