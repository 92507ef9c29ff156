package etl

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// Event-time windows per key. Time is cut into panes of the window's
// slide, aligned to the Unix epoch; a tumbling window is one pane, a
// sliding window of size S and slide D is the S/D panes before its end.
// Each key keeps the state of each aggregate per pane, for the panes a
// window still open (or the aggregate's `over` range) needs, so state is
// bounded by the open windows; it is kept in compact rows per span group
// (window_rows.go).
//
// The watermark of a source partition is the highest event time seen there
// minus the allowed lateness. A window closes when the watermark reaches
// its end: then its final row is emitted and panes no longer needed are
// dropped. A record all of whose windows have closed is late: it goes to
// the dead-letter stream with reason "late". Emission of final rows thus
// depends on event times only, never on wall time, so a replay emits the
// same rows.
//
// A window operator belongs to one source partition and one goroutine.

// Row fields every window row carries, besides the key and aggregates.
const (
	fieldWindowStart    = "window_start"
	fieldWindowEnd      = "window_end"
	fieldFinal          = "final"
	fieldSourcePosition = "source_position"
	fieldIngestTime     = "ingest_time"
)

type emitMode uint8

const (
	emitEveryEvent emitMode = iota
	emitInterval
	emitFinal
)

// DefaultWindowSize is the default window size, Glue's 100-second default.
const DefaultWindowSize = 100 * time.Second

// windowDef is a compiled window.
type windowDef struct {
	keys     []string
	keyRefs  []*record.Ref
	size     int64
	slide    int64
	lateness int64
	emit     emitMode
	interval int64
	aggs     []aggDef
	slots    []*fieldRef // fields aggregates compare with literals, read once per record
	// groups are the aggregates by span, narrowest first (window_rows.go);
	// winGroup's span is the window's and wideGroup's the widest.
	groups              []spanGroup
	winGroup, wideGroup int
	arrival, last       int // the wide group's arrival word and the window group's last
	preWords            int // a key's words of merged panes (keyState.pre)
	schema              *record.Schema
	// latestOnly: the sink keeps one row per key (its key does not include
	// the window's bounds), so rows of a window older than one already
	// emitted for the key are not emitted (they would overwrite newer ones).
	latestOnly bool
}

func compileWindow(spec *WindowSpec, in *record.Schema, partitionKey string, errs *specErrors) *windowDef {
	w := &windowDef{size: spec.Size.D().Nanoseconds(), lateness: spec.AllowedLateness.D().Nanoseconds()}
	if w.size == 0 {
		w.size = DefaultWindowSize.Nanoseconds()
	}
	ok := true
	if w.size < 0 {
		errs.add("window.size", "must be > 0")
		ok = false
	}
	switch spec.Type {
	case "", "tumbling":
		w.slide = w.size
		if spec.Slide != 0 && spec.Slide.D().Nanoseconds() != w.size {
			errs.add("window.slide", "a tumbling window slides by its size; use type: sliding")
		}
	case "sliding":
		w.slide = spec.Slide.D().Nanoseconds()
		if w.slide <= 0 || w.slide > w.size || w.size%w.slide != 0 {
			errs.add("window.slide", "a sliding window needs a slide > 0 that divides its size")
			ok = false
		}
	default:
		errs.add("window.type", "%q: want tumbling or sliding", spec.Type)
		ok = false
	}
	if w.lateness < 0 {
		errs.add("window.allowed_lateness", "must be >= 0")
	}
	switch spec.Emit {
	case "", "every_event":
	case "interval":
		w.emit = emitInterval
		w.interval = spec.Interval.D().Nanoseconds()
		if w.interval <= 0 {
			errs.add("window.interval", "emit: interval needs an interval > 0")
		}
	case "final":
		w.emit = emitFinal
	default:
		errs.add("window.emit", "%q: want every_event, interval or final", spec.Emit)
	}
	if len(spec.Key) == 0 {
		errs.add("window.key", "name at least one key field")
	}
	cols := []record.Column{}
	for i, k := range spec.Key {
		if err := checkPath(in, k); err != nil {
			errs.addErr(fmt.Sprintf("window.key[%d]", i), err)
			continue
		}
		t := record.TypeString
		if in != nil {
			t, _ = lookupType(in, k)
		}
		cols = append(cols, record.Column{Name: k, Type: t, Nullable: true})
		w.keys = append(w.keys, k)
		w.keyRefs = append(w.keyRefs, record.NewRef(schemaName(in, k))) // found by a pointer compare
	}
	if partitionKey != "" && len(spec.Key) > 0 && !slices.Contains(spec.Key, partitionKey) {
		errs.add("window.key", "must include the source's partition key %q: a window is computed by the worker of one source partition", partitionKey)
	}
	if len(spec.Aggregates) == 0 {
		errs.add("window.aggregates", "name at least one aggregate")
	}
	if !ok {
		return nil
	}
	aggs, err := compileAggregates(spec.Aggregates, in, w.size, w.slide)
	if err != nil {
		for _, e := range unjoin(err) {
			errs.addErr("window.aggregates"+pathPrefix(e), trimPath(e))
		}
		return nil
	}
	w.setAggregates(aggs)
	w.setGroups()
	for _, a := range aggs {
		cols = append(cols, record.Column{Name: a.name, Type: a.typ, Nullable: true})
	}
	cols = append(cols,
		record.Column{Name: fieldWindowStart, Type: record.TypeTime},
		record.Column{Name: fieldWindowEnd, Type: record.TypeTime},
		record.Column{Name: fieldFinal, Type: record.TypeBool},
		record.Column{Name: fieldSourcePosition, Type: record.TypeString},
		record.Column{Name: fieldIngestTime, Type: record.TypeTime},
	)
	s, err := record.NewSchema(cols...)
	if err != nil {
		errs.addErr("window", err)
		return nil
	}
	w.schema = s
	return w
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// pathPrefix returns the "[i].x" path an aggregate error starts with.
func pathPrefix(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i > 0 && strings.HasPrefix(s, "[") {
		return s[:i]
	}
	return ""
}

func trimPath(err error) error {
	s := err.Error()
	if i := strings.Index(s, ": "); i > 0 && strings.HasPrefix(s, "[") {
		return errors.New(s[i+2:])
	}
	return err
}

// srcMeta says where a record came from.
type srcMeta struct {
	partition int
	seq       uint64
	index     uint32
	arrival   int64 // Unix nanoseconds
}

// keyState is the window state of one key.
type keyState struct {
	key         string
	vals        []record.Value
	runs        []paneRun // per span group
	lastEmitEnd int64     // end of the newest window emitted
	lastEmit    int64     // wall time of the last interval emission
	pending     bool      // an interval emission is due
	pendingEnd  int64
	touched     bool  // in windowOp.changed
	dirtyFrom   int64 // panes starting at or after it changed since the last checkpoint
	// snap is the capture in progress that took the key and has not
	// copied it yet (its copy goes to index snapAt), nil otherwise.
	snap   *capture
	snapAt int32
	// pre holds the merged older panes of the span groups that keep them
	// (spanGroup.pre), nil until an emission needs one. Derived state: a
	// checkpoint does not hold it, nor a copy.
	pre []uint64
}

func newKeyState(d *windowDef) *keyState {
	return &keyState{lastEmitEnd: math.MinInt64, runs: make([]paneRun, len(d.groups)), dirtyFrom: math.MaxInt64}
}

// windowOp is the window state of one source partition.
type windowOp struct {
	def      *windowDef
	keys     map[string]*keyState
	maxEvent int64 // highest event time seen; math.MinInt64 before any
	closed   int64 // windows ending at or before this have closed
	pending  []*keyState
	row      record.Record
	scratch  hll
	at       []int      // the row of the pane an event goes to, per span group
	ranges   [][2]int   // the rows a row's aggregates read, per span group
	words    [][]uint64 // their words, where the groups are many
	keyBuf   []byte
	posText  func(m srcMeta) string
	// changed and gone are the keys changed or dropped since the last
	// checkpoint: what an incremental checkpoint writes (state.go). A
	// key in changed has touched set; one dropped after it changed stays
	// in the list and is skipped.
	changed []*keyState
	gone    map[string]struct{}
	// cap is the capture in progress (state.go), nil if none.
	cap *capture
	// pane and paneBuf are paneAt's (state.go).
	pane    paneState
	paneBuf []paneRow
	// two are emitRow's runs of two rows per span group: merged panes and
	// the newest (mergedPanes).
	two []twoRows
}

// twoRows is a run of a group's merged older panes and its newest pane.
type twoRows struct {
	run paneRun
	ext runExt
}

func newWindowOp(def *windowDef, posText func(srcMeta) string) *windowOp {
	return &windowOp{def: def, keys: map[string]*keyState{}, maxEvent: math.MinInt64, closed: math.MinInt64, posText: posText,
		gone: map[string]struct{}{}}
}

// touch notes that ks changes: every change of a key's state calls it
// first, so that a capture in progress copies the key as it was before
// (state.go), and the next checkpoint takes it.
func (w *windowOp) touch(ks *keyState) {
	if ks.snap != nil {
		ks.snap.copyKey(ks)
	}
	if !ks.touched {
		ks.touched = true
		w.changed = append(w.changed, ks)
	}
}

// drop removes a key's state and notes it for the next checkpoint.
func (w *windowOp) drop(key string) {
	delete(w.keys, key)
	w.gone[key] = struct{}{}
}

// watermark returns the partition's watermark (math.MinInt64 before any
// record).
func (w *windowOp) watermark() int64 {
	if w.maxEvent == math.MinInt64 {
		return math.MinInt64
	}
	return w.maxEvent - w.def.lateness
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// emitFunc receives a row; the row is valid until the call returns.
type emitFunc func(row *record.Record, m srcMeta) error

// add folds a record with event time t into its key's windows, emits what
// the emission mode asks for, and closes the windows the new watermark
// passes. now is the wall time, which only interval emission reads (the
// caller may pass 0 otherwise: a clock read per event is not free). A late
// record returns a *RecordError with reason "late".
func (w *windowOp) add(r *record.Record, t int64, m srcMeta, ev *exprEval, now int64, emit emitFunc) error {
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
		ks = newKeyState(d)
		ks.key = string(w.keyBuf)
		for i, ref := range d.keyRefs {
			v, ok := ref.Get(r)
			if !ok {
				v, _ = r.Lookup(d.keys[i])
			}
			ks.vals = append(ks.vals, v.Owned()) // r may alias its input
		}
		w.keys[ks.key] = ks
	}
	// The event's pane's row per span group, by word offset and its words
	// (on the stack where the groups are few): rows (with their pointers)
	// kept in the operator would cost write barriers while the GC marks.
	var wsBuf [4][]uint64
	words := wsBuf[:]
	if len(d.groups) > len(wsBuf) {
		words = w.wordsBuf(len(d.groups))
	}
	if cap(w.at) < len(d.groups) {
		w.at = make([]int, len(d.groups))
	}
	at := w.at[:len(d.groups)]
	w.touch(ks)
	w.paneRows(at, words, ks, ps)
	ks.dirtyFrom = min(ks.dirtyFrom, ps)
	if err := d.addAll(ks.runs, at, words, ev, r, t); err != nil {
		return &RecordError{Reason: "expression", Err: err}
	}
	wide := words[d.wideGroup]
	wide[d.arrival] = uint64(max(int64(wide[d.arrival]), m.arrival))
	setMeta(words[d.winGroup][d.last:], m)
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

// paneRows sets at[gi] to the word offset of the row of the pane starting
// at ps in span group gi's run, inserted where missing, and words[gi]
// (unless words is nil) to its words; a group that no longer covers the
// pane (one narrower than the window) gets -1 and nil. The widest group
// and the window's always cover an open window's pane.
func (w *windowOp) paneRows(at []int, words [][]uint64, ks *keyState, ps int64) {
	d := w.def
	for gi := range at {
		g, run := &d.groups[gi], &ks.runs[gi]
		o := len(run.w) - g.stride // the newest: events mostly come in time order
		if o < 0 || int64(run.w[o]) != ps {
			i, ok := run.find(g, ps)
			if !ok {
				if ps < w.oldest(g) {
					at[gi] = -1
					if words != nil {
						words[gi] = nil
					}
					continue
				}
				run.insert(g, i, ps)
			}
			o = i * g.stride
			if g.pre >= 0 && ks.pre != nil && o != len(run.w)-g.stride {
				ks.pre[g.pre+g.stride+1] = 0 // a row older than the newest changes
			}
		}
		at[gi] = o
		if words != nil {
			words[gi] = run.w[o : o+g.stride : o+g.stride]
		}
	}
}

// wordsBuf returns the operator's n slices of words for a window of more
// span groups than the stack's buffer holds, cleared.
func (w *windowOp) wordsBuf(n int) [][]uint64 {
	if cap(w.words) < n {
		w.words = make([][]uint64, n)
	}
	clear(w.words[:n])
	return w.words[:n]
}

// oldest returns the start of the oldest pane a span group covers once
// the windows up to w.closed have closed.
func (w *windowOp) oldest(g *spanGroup) int64 {
	if w.closed == math.MinInt64 {
		return math.MinInt64
	}
	return w.closed + w.def.slide - int64(g.panes)*w.def.slide
}

func setMeta(dst []uint64, m srcMeta) {
	dst[0] = m.seq
	dst[1] = uint64(m.partition)<<32 | uint64(m.index)
	dst[2] = uint64(m.arrival)
}

func getMeta(src []uint64) srcMeta {
	return srcMeta{seq: src[0], partition: int(src[1] >> 32), index: uint32(src[1]), arrival: int64(src[2])}
}

// advance closes the windows the watermark passed: it emits their final
// rows, key by key in key order (so a replay emits them in the same order)
// and window by window in time order, and drops panes no longer needed.
func (w *windowOp) advance(emit emitFunc) error {
	d := w.def
	wm := w.watermark()
	closeTo := floorDiv(wm, d.slide) * d.slide // windows ending at or before it close
	if closeTo <= w.closed {
		return nil
	}
	from := w.closed
	w.closed = closeTo
	wg, ng := &d.groups[d.wideGroup], &d.groups[d.winGroup]
	names := make([]string, 0, len(w.keys))
	for k := range w.keys {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		ks := w.keys[k]
		wide, win := &ks.runs[d.wideGroup], &ks.runs[d.winGroup]
		n := wide.rows(wg)
		if n == 0 {
			w.drop(k)
			continue
		}
		first := wide.start(wg, 0) + d.slide
		last := wide.start(wg, n-1) + d.size
		start := first
		if from != math.MinInt64 {
			start = max(first, from+d.slide)
		}
		for end := start; end <= min(closeTo, last); end += d.slide {
			lo, hi := win.upTo(ng, end-d.size), win.upTo(ng, end)
			if lo == hi {
				continue // no pane of the window
			}
			if d.latestOnly && end < ks.lastEmitEnd {
				continue
			}
			var m srcMeta
			for i := lo; i < hi; i++ {
				p := getMeta(win.w[i*ng.stride+ng.last:])
				if p.seq > m.seq || (p.seq == m.seq && p.index >= m.index) {
					m = p
				}
			}
			var arrival int64
			for i := wide.upTo(wg, end-d.size); i < wide.upTo(wg, end); i++ {
				arrival = max(arrival, int64(wide.w[i*wg.stride+wg.arrival]))
			}
			if err := w.emitRow(ks, end, true, m, arrival, emit); err != nil {
				return err
			}
		}
		// An interval row due for a window that just closed is superseded
		// by its final row: emitted later, it would overwrite that row
		// with a non-final one.
		if ks.pending && ks.pendingEnd <= closeTo {
			w.touch(ks)
			ks.pending = false
		}
		// Each span group drops the panes older than its span reaches:
		// the oldest of its run, so the cost is the panes dropped.
		for gi := range d.groups {
			g, run := &d.groups[gi], &ks.runs[gi]
			if drop := run.upTo(g, w.oldest(g)); drop > 0 {
				w.touch(ks)
				run.dropFront(g, drop)
			}
		}
		if wide.rows(wg) == 0 && !ks.pending {
			w.drop(k)
		}
	}
	return nil
}

// flushDue emits the interval rows that are due at wall time now.
func (w *windowOp) flushDue(now int64, emit emitFunc) error {
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
		w.touch(ks)
		ks.pending = false
		ks.lastEmit = now
		d := w.def
		wg, ng := &d.groups[d.wideGroup], &d.groups[d.winGroup]
		wide, win := &ks.runs[d.wideGroup], &ks.runs[d.winGroup]
		if wide.rows(wg) == 0 {
			continue
		}
		var arrival int64
		for i := range wide.upTo(wg, ks.pendingEnd) {
			arrival = max(arrival, int64(wide.w[i*wg.stride+wg.arrival]))
		}
		// The window's newest pane: the window of a due row is open.
		var m srcMeta
		if i := win.upTo(ng, ks.pendingEnd); i > 0 {
			m = getMeta(win.w[(i-1)*ng.stride+ng.last:])
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
func (w *windowOp) emitRow(ks *keyState, end int64, final bool, m srcMeta, arrival int64, emit emitFunc) error {
	d := w.def
	row := &w.row
	row.Reset()
	for i, k := range d.keys {
		row.Append(k, ks.vals[i])
	}
	// Each group's rows in start order: those of its aggregates' range
	// ending at end are a run of them, here as words.
	if cap(w.ranges) < len(d.groups) {
		w.ranges = make([][2]int, len(d.groups))
	}
	ranges := w.ranges[:len(d.groups)]
	// The words of those rows, on the stack where the groups are few (in
	// the operator, their pointers would cost write barriers while the GC
	// marks).
	var wsBuf [4][]uint64
	words := wsBuf[:]
	if len(d.groups) > len(wsBuf) {
		words = w.wordsBuf(len(d.groups))
	}
	// runs are the groups' runs the aggregates read: a group's own, or its
	// merged older panes and its newest (on the stack where the groups
	// are few, as words).
	var runBuf [4]*paneRun
	runs := runBuf[:]
	if len(d.groups) > len(runBuf) {
		runs = make([]*paneRun, len(d.groups))
	}
	for gi := range d.groups {
		g, run := &d.groups[gi], &ks.runs[gi]
		hi := run.upTo(g, end)
		lo := hi
		for lo > 0 && run.start(g, lo-1) >= end-int64(g.panes)*d.slide {
			lo--
		}
		runs[gi] = run
		if g.pre >= 0 && hi-lo >= minMergedPanes && hi == run.rows(g) {
			if two := w.mergedPanes(ks, gi, lo, hi); two != nil {
				runs[gi], lo, hi = two, 0, 2
			}
		}
		ranges[gi] = [2]int{lo, hi}
		words[gi] = runs[gi].w[lo*g.stride : hi*g.stride]
	}
	for i := range d.aggs {
		a := &d.aggs[i]
		ws := words[a.group]
		var v record.Value
		switch a.kind {
		case aggCount, aggCountIf: // the common cases, without a call
			var n int64
			for j := a.off; j < len(ws); j += a.stride {
				n += int64(ws[j])
			}
			v = record.LongValue(n)
		case aggSum:
			var f float64
			for j := a.off; j < len(ws); j += a.stride {
				f += math.Float64frombits(ws[j])
			}
			v = record.DoubleValue(f)
		case aggLast:
			if len(ws) == a.stride && a.cell == record.KindDouble && ws[a.off] > 1 {
				v = record.DoubleValue(math.Float64frombits(ws[a.off] ^ cellKey)) // one pane's double: its value
				break
			}
			fallthrough
		default:
			rg := ranges[a.group]
			v = a.result(runs[a.group], &d.groups[a.group], rg[0], rg[1], &w.scratch)
		}
		row.Append(a.name, v)
	}
	row.Append(fieldWindowStart, record.TimestampNanos(end-d.size))
	row.Append(fieldWindowEnd, record.TimestampNanos(end))
	row.Append(fieldFinal, record.BoolValue(final))
	row.Append(fieldSourcePosition, record.StringValue(w.posText(m)))
	row.Append(fieldIngestTime, record.TimestampNanos(arrival))
	if end > ks.lastEmitEnd {
		w.touch(ks)
		ks.lastEmitEnd = end
	}
	return emit(row, m)
}

// mergedPanes returns a run of two rows standing for rows [lo, hi) of a
// key's span group gi, hi its newest: the merge of rows [lo, hi-1), kept in
// the key's state while those rows do not change, and row hi-1. Over it
// every aggregate of the group gives what it gives over the rows, reading
// two rows instead of the group's many panes (36 for an hour of 100 s
// ones) on every event. It returns nil where the merge is of no use (a
// value of the older rows is spilled).
func (w *windowOp) mergedPanes(ks *keyState, gi, lo, hi int) *paneRun {
	d := w.def
	g, run := &d.groups[gi], &ks.runs[gi]
	if ks.pre == nil {
		ks.pre = make([]uint64, d.preWords)
	}
	p := ks.pre[g.pre : g.pre+g.stride+2]
	newest := run.w[(hi-1)*g.stride]
	if p[g.stride+1] == 0 || p[0] != run.w[lo*g.stride] || p[g.stride] != newest {
		p[g.stride+1] = preValid
		if !d.mergeRows(p[:g.stride], run, g, lo, hi-1, &w.scratch) {
			p[0] = run.w[lo*g.stride] // mergeRows may not have set it
			p[g.stride+1] = preSpilled
		}
		p[g.stride] = newest
	}
	if p[g.stride+1] != preValid {
		return nil
	}
	if len(w.two) < len(d.groups) {
		w.two = make([]twoRows, len(d.groups))
	}
	t := &w.two[gi]
	t.run.w = append(append(t.run.w[:0], p[:g.stride]...), run.w[(hi-1)*g.stride:hi*g.stride]...)
	t.run.ext = nil
	if run.ext != nil && run.ext.vals != nil { // the newest row's spilled values, after none of the merge's
		t.ext.vals = append(append(t.ext.vals[:0], make([]record.Value, g.nvals)...), run.ext.vals[(hi-1)*g.nvals:hi*g.nvals]...)
		t.run.ext = &t.ext
	}
	return &t.run
}

// openWindows returns the number of keys with state (for metrics).
func (w *windowOp) openKeys() int { return len(w.keys) }
