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
// Each key keeps a partial per aggregate per pane, for the panes a window
// still open (or an aggregate's `over` range) needs, so state is bounded
// by the open windows.
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
	maxPanes int         // panes the widest aggregate covers
	schema   *record.Schema
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
		w.keyRefs = append(w.keyRefs, record.NewRef(k))
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
	for _, a := range aggs {
		w.maxPanes = max(w.maxPanes, a.panes)
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

// pane is one slide of event time of one key.
type pane struct {
	start      int64
	parts      []partial
	maxArrival int64
	last       srcMeta // the newest record folded in
	dirty      bool    // changed since the last checkpoint
}

// keyState is the window state of one key.
type keyState struct {
	key         string
	vals        []record.Value
	panes       []*pane // by start, ascending
	lastEmitEnd int64   // end of the newest window emitted
	lastEmit    int64   // wall time of the last interval emission
	pending     bool    // an interval emission is due
	pendingEnd  int64
	touched     bool // in windowOp.changed
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
	keyBuf   []byte
	posText  func(m srcMeta) string
	// changed and gone are the keys changed or dropped since the last
	// checkpoint: what an incremental checkpoint writes (state.go). A
	// key in changed has touched set; one dropped after it changed stays
	// in the list and is skipped.
	changed []*keyState
	gone    map[string]struct{}
}

func newWindowOp(def *windowDef, posText func(srcMeta) string) *windowOp {
	return &windowOp{def: def, keys: map[string]*keyState{}, maxEvent: math.MinInt64, closed: math.MinInt64, posText: posText,
		gone: map[string]struct{}{}}
}

// touch notes that ks changed since the last checkpoint.
func (w *windowOp) touch(ks *keyState) {
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
		ks = &keyState{key: string(w.keyBuf), lastEmitEnd: math.MinInt64}
		for i, ref := range d.keyRefs {
			v, ok := ref.Get(r)
			if !ok {
				v, _ = r.Lookup(d.keys[i])
			}
			ks.vals = append(ks.vals, ownValue(v))
		}
		w.keys[ks.key] = ks
	}
	p := ks.pane(ps, len(d.aggs))
	p.dirty = true
	w.touch(ks)
	if err := d.addAll(p.parts, ev, r, t); err != nil {
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

func (ks *keyState) pane(start int64, naggs int) *pane {
	if n := len(ks.panes); n > 0 && ks.panes[n-1].start == start {
		return ks.panes[n-1] // the newest: events mostly come in time order
	}
	i, found := slices.BinarySearchFunc(ks.panes, start, func(p *pane, s int64) int { return cmpInt(p.start, s) })
	if found {
		return ks.panes[i]
	}
	p := &pane{start: start, parts: make([]partial, naggs)}
	ks.panes = slices.Insert(ks.panes, i, p)
	return p
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
	keep := closeTo + d.slide - int64(d.maxPanes)*d.slide // oldest pane start still needed
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
		// approximate distinct count's registers take 4 KB a pane).
		for _, p := range ks.panes {
			for a := range d.aggs {
				if d.aggs[a].panes < d.maxPanes && p.start < closeTo+d.slide-int64(d.aggs[a].panes)*d.slide && !p.parts[a].empty() {
					p.parts[a] = partial{}
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

func (ks *keyState) hasPane(from, to int64) bool {
	for _, p := range ks.panes {
		if p.start >= from && p.start < to {
			return true
		}
	}
	return false
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
func (w *windowOp) emitRow(ks *keyState, end int64, final bool, m srcMeta, arrival int64, emit emitFunc) error {
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
			v = a.result(in, i, &w.scratch)
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

// openWindows returns the number of keys with state (for metrics).
func (w *windowOp) openKeys() int { return len(w.keys) }
