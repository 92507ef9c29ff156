package etl

// The window operator as it was before window state was kept per span
// group in compact rows (commit 3136ef4): the reference the compact
// layout's output is checked against (TestETLWindowCompactMatchesReference).

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// refPane is one slide of event time of one key.
type refPane struct {
	start      int64
	parts      []refPartial
	maxArrival int64
	last       srcMeta // the newest record folded in
	dirty      bool    // changed since the last checkpoint
}

// refKeyState is the window state of one key.
type refKeyState struct {
	key         string
	vals        []record.Value
	panes       []*refPane // by start, ascending
	lastEmitEnd int64      // end of the newest window emitted
	lastEmit    int64      // wall time of the last interval emission
	pending     bool       // an interval emission is due
	pendingEnd  int64
	touched     bool // in refWindowOp.changed
}

// refWindowOp is the window state of one source partition.
type refWindowOp struct {
	def      *windowDef
	keys     map[string]*refKeyState
	maxEvent int64 // highest event time seen; math.MinInt64 before any
	closed   int64 // windows ending at or before this have closed
	pending  []*refKeyState
	row      record.Record
	scratch  hll
	keyBuf   []byte
	posText  func(m srcMeta) string
	// changed and gone are the keys changed or dropped since the last
	// checkpoint: what an incremental checkpoint writes (state.go). A
	// key in changed has touched set; one dropped after it changed stays
	// in the list and is skipped.
	changed []*refKeyState
	gone    map[string]struct{}
}

func newRefWindowOp(def *windowDef, posText func(srcMeta) string) *refWindowOp {
	return &refWindowOp{def: def, keys: map[string]*refKeyState{}, maxEvent: math.MinInt64, closed: math.MinInt64, posText: posText,
		gone: map[string]struct{}{}}
}

// touch notes that ks changed since the last checkpoint.
func (w *refWindowOp) touch(ks *refKeyState) {
	if !ks.touched {
		ks.touched = true
		w.changed = append(w.changed, ks)
	}
}

// drop removes a key's state and notes it for the next checkpoint.
func (w *refWindowOp) drop(key string) {
	delete(w.keys, key)
	w.gone[key] = struct{}{}
}

// watermark returns the partition's watermark (math.MinInt64 before any
// record).
func (w *refWindowOp) watermark() int64 {
	if w.maxEvent == math.MinInt64 {
		return math.MinInt64
	}
	return w.maxEvent - w.def.lateness
}

// add folds a record with event time t into its key's windows, emits what
// the emission mode asks for, and closes the windows the new watermark
// passes. now is the wall time, which only interval emission reads (the
// caller may pass 0 otherwise: a clock read per event is not free). A late
// record returns a *RecordError with reason "late".
func (w *refWindowOp) add(r *record.Record, t int64, m srcMeta, ev *exprEval, now int64, emit emitFunc) error {
	d := w.def
	ps := floorDiv(t, d.slide) * d.slide
	if ps+d.size <= w.closed {
		return &RecordError{Reason: "late", Err: fmt.Errorf("event time %s: every window it belongs to closed at watermark %s",
			time.Unix(0, t).UTC().Format(time.RFC3339Nano), time.Unix(0, w.watermark()).UTC().Format(time.RFC3339Nano))}
	}
	w.keyBuf = w.keyBuf[:0]
	for i, ref := range d.keyRefs {
		v, ok := ref.Get(r)
		if !ok {
			v, _ = r.Lookup(d.keys[i])
		}
		if i > 0 {
			w.keyBuf = append(w.keyBuf, 0)
		}
		if v.Kind() == record.KindString {
			w.keyBuf = append(w.keyBuf, v.Str()...)
		} else {
			w.keyBuf = append(w.keyBuf, v.Text()...)
		}
	}
	ks := w.keys[string(w.keyBuf)]
	if ks == nil {
		ks = &refKeyState{key: string(w.keyBuf), lastEmitEnd: math.MinInt64}
		for i, ref := range d.keyRefs {
			v, ok := ref.Get(r)
			if !ok {
				v, _ = r.Lookup(d.keys[i])
			}
			ks.vals = append(ks.vals, v.Owned())
		}
		w.keys[ks.key] = ks
	}
	p := ks.refPane(ps, len(d.aggs))
	p.dirty = true
	w.touch(ks)
	if err := d.refAddAll(p.parts, ev, r, t); err != nil {
		return &RecordError{Reason: "expression", Err: err}
	}
	p.maxArrival = max(p.maxArrival, m.arrival)
	p.last = m
	end := ps + d.slide // the newest window holding the record
	switch d.emit {
	case emitEveryEvent:
		if !d.latestOnly || end >= ks.lastEmitEnd {
			if err := w.emitRow(ks, end, false, m, m.arrival, emit); err != nil {
				return err
			}
		}
	case emitInterval:
		if !d.latestOnly || end >= ks.lastEmitEnd {
			if now-ks.lastEmit >= d.interval {
				ks.lastEmit = now
				ks.pending = false
				if err := w.emitRow(ks, end, false, m, m.arrival, emit); err != nil {
					return err
				}
			} else if !ks.pending || end > ks.pendingEnd {
				if !ks.pending {
					w.pending = append(w.pending, ks)
				}
				ks.pending, ks.pendingEnd = true, end
			}
		}
	}
	if t > w.maxEvent {
		w.maxEvent = t
		return w.advance(emit)
	}
	return nil
}

func (ks *refKeyState) refPane(start int64, naggs int) *refPane {
	if n := len(ks.panes); n > 0 && ks.panes[n-1].start == start {
		return ks.panes[n-1] // the newest: events mostly come in time order
	}
	i, found := slices.BinarySearchFunc(ks.panes, start, func(p *refPane, s int64) int { return cmpInt(p.start, s) })
	if found {
		return ks.panes[i]
	}
	p := &refPane{start: start, parts: make([]refPartial, naggs)}
	ks.panes = slices.Insert(ks.panes, i, p)
	return p
}

// advance closes the windows the watermark passed: it emits their final
// rows, key by key in key order (so a replay emits them in the same order)
// and window by window in time order, and drops panes no longer needed.
func (w *refWindowOp) advance(emit emitFunc) error {
	d := w.def
	wm := w.watermark()
	closeTo := floorDiv(wm, d.slide) * d.slide // windows ending at or before it close
	if closeTo <= w.closed {
		return nil
	}
	from := w.closed
	w.closed = closeTo
	keep := closeTo + d.slide - int64(refMaxPanes(d))*d.slide // oldest refPane start still needed
	names := make([]string, 0, len(w.keys))
	for k := range w.keys {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		ks := w.keys[k]
		if len(ks.panes) == 0 {
			w.drop(k)
			continue
		}
		first := ks.panes[0].start + d.slide
		last := ks.panes[len(ks.panes)-1].start + d.size
		start := first
		if from != math.MinInt64 {
			start = max(first, from+d.slide)
		}
		for end := start; end <= min(closeTo, last); end += d.slide {
			if !ks.hasPane(end-d.size, end) {
				continue
			}
			if d.latestOnly && end < ks.lastEmitEnd {
				continue
			}
			var arrival int64
			var m srcMeta
			for _, p := range ks.panes {
				if p.start >= end-d.size && p.start < end {
					arrival = max(arrival, p.maxArrival)
					if p.last.seq > m.seq || (p.last.seq == m.seq && p.last.index >= m.index) {
						m = p.last
					}
				}
			}
			if err := w.emitRow(ks, end, true, m, arrival, emit); err != nil {
				return err
			}
		}
		// An interval row due for a window that just closed is superseded
		// by its final row: emitted later, it would overwrite that row
		// with a non-final one.
		if ks.pending && ks.pendingEnd <= closeTo {
			ks.pending = false
			w.touch(ks)
		}
		i := 0
		for i < len(ks.panes) && ks.panes[i].start < keep {
			i++
		}
		if i > 0 {
			ks.panes = ks.panes[i:]
			w.touch(ks)
		}
		// An aggregate over fewer panes than the widest no longer reads
		// its partials in panes older than its own range: free them (an
		// approximate distinct count's registers take 4 KB a refPane).
		for _, p := range ks.panes {
			for a := range d.aggs {
				if d.aggs[a].panes < refMaxPanes(d) && p.start < closeTo+d.slide-int64(d.aggs[a].panes)*d.slide && !p.parts[a].empty() {
					p.parts[a] = refPartial{}
					p.dirty = true
					w.touch(ks)
				}
			}
		}
		if len(ks.panes) == 0 && !ks.pending {
			w.drop(k)
		}
	}
	return nil
}

func (ks *refKeyState) hasPane(from, to int64) bool {
	for _, p := range ks.panes {
		if p.start >= from && p.start < to {
			return true
		}
	}
	return false
}

// flushDue emits the interval rows that are due at wall time now.
func (w *refWindowOp) flushDue(now int64, emit emitFunc) error {
	if len(w.pending) == 0 {
		return nil
	}
	out := w.pending[:0]
	for _, ks := range w.pending {
		if !ks.pending {
			continue
		}
		if now-ks.lastEmit < w.def.interval {
			out = append(out, ks)
			continue
		}
		ks.pending = false
		ks.lastEmit = now
		w.touch(ks)
		if len(ks.panes) == 0 {
			continue
		}
		var m srcMeta
		var arrival int64
		for _, p := range ks.panes {
			if p.start < ks.pendingEnd {
				arrival = max(arrival, p.maxArrival)
				m = p.last
			}
		}
		if err := w.emitRow(ks, ks.pendingEnd, false, m, arrival, emit); err != nil {
			return err
		}
	}
	clear(w.pending[len(out):])
	w.pending = out
	return nil
}

// emitRow builds the row of the key's window ending at end and emits it.
func (w *refWindowOp) emitRow(ks *refKeyState, end int64, final bool, m srcMeta, arrival int64, emit emitFunc) error {
	d := w.def
	row := &w.row
	row.Reset()
	for i, k := range d.keys {
		row.Append(k, ks.vals[i])
	}
	// Panes are in start order: those of the window ending at end, and of
	// an aggregate's range ending there, are a run of them.
	panes := ks.panes
	hi := len(panes)
	for hi > 0 && panes[hi-1].start >= end {
		hi--
	}
	lo, span := hi, int64(0)
	for i := range d.aggs {
		a := &d.aggs[i]
		if a.span != span { // aggregates mostly share the window's span
			span = a.span
			lo = hi
			for lo > 0 && panes[lo-1].start >= end-span {
				lo--
			}
		}
		var v record.Value
		switch in := panes[lo:hi]; a.kind {
		case aggCount, aggCountIf: // the common cases, without a call
			var n int64
			for _, p := range in {
				n += p.parts[i].n
			}
			v = record.LongValue(n)
		case aggSum:
			var f float64
			for _, p := range in {
				f += p.parts[i].f
			}
			v = record.DoubleValue(f)
		default:
			v = a.refResult(in, i, &w.scratch)
		}
		row.Append(a.name, v)
	}
	row.Append(fieldWindowStart, record.TimestampNanos(end-d.size))
	row.Append(fieldWindowEnd, record.TimestampNanos(end))
	row.Append(fieldFinal, record.BoolValue(final))
	row.Append(fieldSourcePosition, record.StringValue(w.posText(m)))
	row.Append(fieldIngestTime, record.TimestampNanos(arrival))
	if end > ks.lastEmitEnd {
		ks.lastEmitEnd = end
		w.touch(ks)
	}
	return emit(row, m)
}

// refPartial is an aggregate's state over one refPane.
type refPartial struct {
	n   int64        // count, count_if, avg and sum: values seen
	f   float64      // sum, avg
	v   record.Value // min, max, last
	t   int64        // last: event time of v
	hll *hll
}

// addAll folds one record into a refPane's partials, one per aggregate: a
// test of a field against a literal on the field's read slot, a count_if
// by its closure, a bare field by addBare, others by add.
func (d *windowDef) refAddAll(parts []refPartial, ev *exprEval, r *record.Record, eventTime int64) error {
	var vals [maxSlots]string // the slots' fields, read at first use
	var read uint
	for i := range d.aggs {
		a, p := &d.aggs[i], &parts[i]
		if s := a.slot; s >= 0 {
			if read&(1<<s) == 0 {
				vals[s] = d.slots[s].str(r)
				read |= 1 << s
			}
			is := (vals[s] == a.lit) != a.ne
			switch {
			case a.kind == aggCountIf:
				if is {
					p.n++
				}
			case is:
				p.n++
				p.f += a.then(r)
			default:
				p.n++
				p.f += a.orElse(r)
			}
			continue
		}
		switch { // the common cases, without a call
		case a.cond != nil:
			if a.cond(r) {
				p.n++
			}
		case a.bare != nil:
			a.refAddBare(p, r, eventTime)
		default:
			if err := a.refAdd(p, ev, r, eventTime); err != nil {
				return fmt.Errorf("aggregate %s: %w", a.name, err)
			}
		}
	}
	return nil
}

// add folds one record into a refPane's refPartial, evaluating the aggregate's
// expression with ev.
func (d *aggDef) refAdd(p *refPartial, ev *exprEval, r *record.Record, eventTime int64) error {
	if d.fieldRef != nil {
		v, ok := d.fieldRef.Get(r)
		if !ok {
			v, ok = r.Lookup(d.field)
		}
		if !ok || v.IsNull() {
			return nil
		}
	}
	switch d.kind {
	case aggCount:
		p.n++
	case aggCountIf:
		ok, err := ev.Bool(d.e, r)
		if err != nil {
			return err
		}
		if ok {
			p.n++
		}
	case aggSum, aggAvg:
		f, ok, err := ev.Number(d.e, r)
		if err != nil {
			return err
		}
		if ok {
			p.n++
			p.f += f
		}
	case aggMin, aggMax, aggLast, aggDistinct:
		v, err := ev.Value(d.e, r, r)
		if err != nil {
			return err
		}
		d.refFold(p, v, eventTime)
	}
	return nil
}

// fold folds a value of a min, max, last or approx_distinct aggregate into
// a refPartial; null is skipped.
func (d *aggDef) refFold(p *refPartial, v record.Value, eventTime int64) {
	if v.IsNull() {
		return
	}
	switch d.kind {
	case aggMin, aggMax, aggLast:
		v = v.Owned()
		switch {
		case d.kind == aggLast:
			if p.v.IsNull() || eventTime >= p.t {
				p.v, p.t = v, eventTime
			}
		case p.v.IsNull():
			p.v = v
		default:
			c := compareValues(v, p.v)
			if (d.kind == aggMin && c < 0) || (d.kind == aggMax && c > 0) {
				p.v = v
			}
		}
	case aggDistinct:
		if p.hll == nil {
			p.hll = newHLL()
		}
		if v.Kind() == record.KindString {
			p.hll.add(hashString(v.Str()))
		} else {
			p.hll.add(hashString(v.Text()))
		}
	}
}

// addBare is add for an aggregate of a bare field on the fast path: it
// reads the field once, skips null, and folds the value converted as
// exprEval's Value and Number would (the fast path's field read).
func (d *aggDef) refAddBare(p *refPartial, r *record.Record, eventTime int64) {
	n := d.bare
	v := n.field.value(r)
	if v.IsNull() {
		return
	}
	switch d.kind {
	case aggCount:
		p.n++
		return
	case aggSum, aggAvg:
		switch n.kind {
		case fkNum:
			p.n++
			p.f += readNum(v)
		case fkInt:
			p.n++
			p.f += float64(readInt(v))
		}
		return
	}
	switch n.kind {
	case fkStr:
		v = record.StringValue(readStr(v))
	case fkNum:
		v = doubleValue(readNum(v))
	case fkInt:
		v = record.LongValue(readInt(v))
	case fkBool:
		v = record.BoolValue(v.Bool())
	case fkTime:
		v = record.TimestampNanos(readTime(v))
	}
	if d.kind == aggLast { // fold's case for a scalar: nothing to own
		if !v.IsNull() && (p.v.IsNull() || eventTime >= p.t) {
			if p.v != v { // often the same: spare the write barriers while the GC marks
				p.v = v
			}
			p.t = eventTime
		}
		return
	}
	d.refFold(p, v, eventTime)
}

// result merges the aggregate's partials (the i-th of each refPane) over the
// panes a window's aggregate covers.
func (d *aggDef) refResult(panes []*refPane, i int, scratch *hll) record.Value {
	switch d.kind {
	case aggCount, aggCountIf:
		var n int64
		for _, pn := range panes {
			n += pn.parts[i].n
		}
		return record.LongValue(n)
	case aggSum:
		var f float64
		for _, pn := range panes {
			f += pn.parts[i].f
		}
		return record.DoubleValue(f)
	case aggAvg:
		var f float64
		var n int64
		for _, pn := range panes {
			p := &pn.parts[i]
			f += p.f
			n += p.n
		}
		if n == 0 {
			return record.NullValue()
		}
		return record.DoubleValue(f / float64(n))
	case aggMin, aggMax:
		var best record.Value
		for _, pn := range panes {
			p := &pn.parts[i]
			if p.v.IsNull() {
				continue
			}
			if best.IsNull() {
				best = p.v
				continue
			}
			c := compareValues(p.v, best)
			if (d.kind == aggMin && c < 0) || (d.kind == aggMax && c > 0) {
				best = p.v
			}
		}
		return best
	case aggLast:
		var best record.Value
		var bt int64
		for _, pn := range panes {
			p := &pn.parts[i]
			if !p.v.IsNull() && (best.IsNull() || p.t >= bt) {
				best, bt = p.v, p.t
			}
		}
		return best
	case aggDistinct:
		var one *hll
		n := 0
		for _, pn := range panes {
			p := &pn.parts[i]
			if p.hll != nil {
				one = p.hll
				n++
			}
		}
		switch n {
		case 0:
			return record.LongValue(0)
		case 1:
			return record.LongValue(one.estimate())
		}
		*scratch = hll{sum: hllM, zeros: hllM}
		for _, pn := range panes {
			p := &pn.parts[i]
			if p.hll != nil {
				scratch.merge(p.hll)
			}
		}
		return record.LongValue(scratch.estimate())
	}
	return record.NullValue()
}

func (p *refPartial) empty() bool {
	return p.n == 0 && p.f == 0 && p.t == 0 && p.hll == nil && p.v.Kind() == record.KindNull
}

// refMaxPanes returns the panes the widest aggregate covers.
func refMaxPanes(d *windowDef) int {
	n := 0
	for _, a := range d.aggs {
		n = max(n, a.panes)
	}
	return n
}
