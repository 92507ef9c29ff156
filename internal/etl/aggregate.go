package etl

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// Aggregates of a window. Each keeps one mergeable partial per pane (a
// slide of event time), so that a tumbling window is one pane, a sliding
// window and an `over` range are several, and a window's value is the
// merge of its panes' partials.

type aggKind uint8

const (
	aggCount aggKind = iota
	aggCountIf
	aggSum
	aggMin
	aggMax
	aggAvg
	aggLast
	aggDistinct
)

var aggNames = [...]string{"count", "count_if", "sum", "min", "max", "avg", "last", "approx_distinct"}

// aggDef is a compiled aggregate.
type aggDef struct {
	name  string
	kind  aggKind
	e     *Expr
	span  int64 // nanoseconds of event time it covers, ending at the window's end
	panes int   // span / slide
	typ   *record.Type
	// field is set when the expression is a bare field: a record whose field
	// is null or missing is skipped, as SQL's aggregates skip nulls (in an
	// expression a null reads as its type's zero value, which would count).
	field    string
	fieldRef *record.Ref
	// bare is the expression's field read when the expression is a bare
	// field on the fast path: the read that tells null from a value also
	// gives the value, as the expression would convert it.
	bare *fastNode
	// cond is a count_if's condition compiled to a closure (nil: use e).
	cond boolFn
	// A count_if of `field == "literal"` (or !=), or a sum or avg of
	// `field == "literal" ? x : y`, reads the field from the window's read
	// slot (-1: none): aggregates comparing one field with literals read it
	// once per record (see windowDef.setAggregates).
	slot         int
	lit          string
	ne           bool  // the test is !=
	then, orElse numFn // sum and avg: the branches
	// Where its state is kept (window_rows.go): its span group, its first
	// word in the group's rows, the kind of its value cell (min, max,
	// last; KindNull: every value is spilled) and its place among the
	// group's spilled values or sketches.
	group, off   int
	stride       int // the group's stride
	cell         record.Kind
	vslot, hslot int
	// direct: the values addBare folds are of the cell's kind and built as
	// the cell rebuilds them, so they go to the cell without setValue's
	// round-trip check.
	direct bool
}

var bareField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// partial is an aggregate's state over one pane in the form version 1
// checkpoints write (the window keeps it in compact rows, window_rows.go).
type partial struct {
	n   int64        // count, count_if, avg and sum: values seen
	f   float64      // sum, avg
	v   record.Value // min, max, last
	t   int64        // last: event time of v
	hll *hll
}

func compileAggregates(specs []AggregateSpec, in *record.Schema, size, slide int64) ([]aggDef, error) {
	var errs []error
	var out []aggDef
	seen := map[string]bool{}
	for i, a := range specs {
		p := fmt.Sprintf("[%d]", i)
		if a.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: missing", p))
			continue
		}
		if seen[a.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", p, a.Name))
		}
		seen[a.Name] = true
		var kinds []aggKind
		var srcs []string
		add := func(set bool, k aggKind, src string) {
			if set {
				kinds = append(kinds, k)
				srcs = append(srcs, src)
			}
		}
		add(a.Count, aggCount, "")
		add(a.CountIf != "", aggCountIf, a.CountIf)
		add(a.Sum != "", aggSum, a.Sum)
		add(a.Min != "", aggMin, a.Min)
		add(a.Max != "", aggMax, a.Max)
		add(a.Avg != "", aggAvg, a.Avg)
		add(a.Last != "", aggLast, a.Last)
		add(a.ApproxDistinct != "", aggDistinct, a.ApproxDistinct)
		if len(kinds) != 1 {
			errs = append(errs, fmt.Errorf("%s: want exactly one of count, count_if, sum, min, max, avg, last, approx_distinct", p))
			continue
		}
		d := aggDef{name: a.Name, kind: kinds[0], span: size}
		fn := p + "." + aggNames[d.kind]
		if over := a.Over.D().Nanoseconds(); over != 0 {
			if over < slide || over%slide != 0 {
				errs = append(errs, fmt.Errorf("%s.over: %s must be a multiple of the window's slide %s", p, a.Over.D(), Duration(slide).D()))
				continue
			}
			d.span = over
		}
		d.panes = int(d.span / slide)
		want := wantAny
		switch d.kind {
		case aggCountIf:
			want = wantBool
		case aggSum, aggAvg:
			want = wantNumber
		}
		if srcs[0] != "" {
			e, err := compileExpr(srcs[0], in, want)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", fn, err))
				continue
			}
			d.e = e
			if d.kind == aggCountIf {
				d.cond = e.typed.b
			}
			if src := strings.TrimSpace(srcs[0]); d.kind != aggCountIf && bareField.MatchString(src) {
				d.field, d.fieldRef = src, record.NewRef(schemaName(in, src))
				if e.fast != nil && e.fast.op == opField && e.fast.field.path == src {
					d.bare = e.fast
				}
			}
		}
		switch d.kind {
		case aggCount, aggCountIf, aggDistinct:
			d.typ = record.TypeLong
		case aggSum, aggAvg:
			d.typ = record.TypeDouble
		default:
			d.typ = d.e.resultType()
			if d.typ == nil {
				d.typ = record.TypeString
			}
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// maxSlots bounds the fields a window's aggregates compare with literals
// that are read once per record.
const maxSlots = 8

// setAggregates sets the window's aggregates and gives those that compare
// a string field with a literal (views: event_type == "view", purchases:
// event_type == "purchase", ...) a read slot per field.
func (d *windowDef) setAggregates(aggs []aggDef) {
	d.aggs = aggs
	d.slots = nil
	for i := range d.aggs {
		a := &d.aggs[i]
		a.slot = -1
		if a.e == nil || a.e.fast == nil || !a.e.fast.plain() {
			continue
		}
		n := a.e.fast
		var test *fastNode
		switch {
		case a.kind == aggCountIf:
			test = n
		case (a.kind == aggSum || a.kind == aggAvg) && n.op == opCond && isNumKind(n.kind):
			test = n.c3
			a.then, a.orElse = numOf(n.a), numOf(n.b)
		default:
			continue
		}
		f, lit, ne, ok := literalTest(test)
		if !ok {
			continue
		}
		slot := slices.IndexFunc(d.slots, func(g *fieldRef) bool { return g.path == f.path })
		if slot < 0 {
			if len(d.slots) == maxSlots {
				continue
			}
			slot = len(d.slots)
			d.slots = append(d.slots, f)
		}
		a.slot, a.lit, a.ne = slot, lit, ne
	}
}

// literalTest matches `field == "literal"`, `field != "literal"` and the
// literal on the left, of a string field on the fast path.
func literalTest(n *fastNode) (f *fieldRef, lit string, ne, ok bool) {
	if n.op != opEq && n.op != opNe {
		return nil, "", false, false
	}
	a, b := n.a, n.b
	if a.op == opConst {
		a, b = b, a
	}
	if a.op != opField || a.kind != fkStr || b.op != opConst || b.c.k != fkStr {
		return nil, "", false, false
	}
	return a.field, b.c.s, n.op == opNe, true
}

// addAll folds one record into a pane's rows: at holds the word offset
// of the pane's row in each span group's run of runs and words the row's
// words (nil: the group does not cover the pane). A test of a field against a
// literal goes on the field's read slot, a count_if by its closure, a
// bare field by addBare, others by add.
func (d *windowDef) addAll(runs []paneRun, at []int, words [][]uint64, ev *exprEval, r *record.Record, eventTime int64) error {
	var vals [maxSlots]string // the slots' fields, read at first use
	var read uint
	for i := range d.aggs {
		a := &d.aggs[i]
		w := words[a.group]
		if w == nil {
			continue
		}
		if s := a.slot; s >= 0 {
			if read&(1<<s) == 0 {
				vals[s] = d.slots[s].str(r)
				read |= 1 << s
			}
			is := (vals[s] == a.lit) != a.ne
			switch {
			case a.kind == aggCountIf:
				if is {
					w[a.off]++
				}
			case is:
				a.addNum(w, a.then(r))
			default:
				a.addNum(w, a.orElse(r))
			}
			continue
		}
		if a.cond != nil { // a count_if by its closure
			if a.cond(r) {
				w[a.off]++
			}
			continue
		}
		if a.direct && a.kind == aggLast { // addBare's common case, without a row
			v := a.bare.field.value(r)
			if v.IsNull() {
				continue
			}
			bits, ok := a.bareBits(v)
			if !ok {
				continue
			}
			if c := bits ^ cellKey; c > 1 && w[a.off] != 1 { // neither spilled
				if w[a.off] == 0 || eventTime >= int64(w[a.off+1]) {
					w[a.off], w[a.off+1] = c, uint64(eventTime)
				}
				continue
			}
		}
		// A row of locals, built for the aggregate: one kept for the event
		// would cost write barriers while the GC marks.
		p := &paneRow{g: &d.groups[a.group], run: &runs[a.group], i: at[a.group] / a.stride, w: w}
		if a.bare != nil {
			a.addBare(p, r, eventTime)
		} else if err := a.add(p, ev, r, eventTime); err != nil {
			return fmt.Errorf("aggregate %s: %w", a.name, err)
		}
	}
	return nil
}

// addNum folds a number into a sum's or an avg's words in a row's words
// w.
func (d *aggDef) addNum(w []uint64, f float64) {
	if d.kind == aggAvg {
		w[d.off]++
		w[d.off+1] = math.Float64bits(math.Float64frombits(w[d.off+1]) + f)
		return
	}
	w[d.off] = math.Float64bits(math.Float64frombits(w[d.off]) + f)
}

// add folds one record into a pane's row, evaluating the aggregate's
// expression with ev.
func (d *aggDef) add(p *paneRow, ev *exprEval, r *record.Record, eventTime int64) error {
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
		p.w[d.off]++
	case aggCountIf:
		ok, err := ev.Bool(d.e, r)
		if err != nil {
			return err
		}
		if ok {
			p.w[d.off]++
		}
	case aggSum, aggAvg:
		f, ok, err := ev.Number(d.e, r)
		if err != nil {
			return err
		}
		if ok {
			d.addNum(p.w, f)
		}
	case aggMin, aggMax, aggLast, aggDistinct:
		v, err := ev.Value(d.e, r, r)
		if err != nil {
			return err
		}
		d.fold(p, v, eventTime)
	}
	return nil
}

// fold folds a value of a min, max, last or approx_distinct aggregate into
// a pane's row; null is skipped.
func (d *aggDef) fold(p *paneRow, v record.Value, eventTime int64) {
	if v.IsNull() {
		return
	}
	switch d.kind {
	case aggMin, aggMax, aggLast: // setValue keeps a copy that owns its strings
		switch {
		case d.kind == aggLast:
			if p.w[d.off] == 0 || eventTime >= int64(p.w[d.off+1]) {
				d.setValue(p, v)
				p.w[d.off+1] = uint64(eventTime)
			}
		case p.w[d.off] == 0:
			d.setValue(p, v)
		default:
			c := compareValues(v, d.value(p))
			if (d.kind == aggMin && c < 0) || (d.kind == aggMax && c > 0) {
				d.setValue(p, v)
			}
		}
	case aggDistinct:
		h := d.sketch(p)
		if *h == nil {
			*h = newHLL()
		}
		if v.Kind() == record.KindString {
			(*h).add(hashString(v.Str()))
		} else {
			(*h).add(hashString(v.Text()))
		}
	}
}

// addBare is add for an aggregate of a bare field on the fast path: it
// reads the field once, skips null, and folds the value converted as
// exprEval's Value and Number would (the fast path's field read).
func (d *aggDef) addBare(p *paneRow, r *record.Record, eventTime int64) {
	n := d.bare
	v := n.field.value(r)
	if v.IsNull() {
		return
	}
	switch d.kind {
	case aggCount:
		p.w[d.off]++
		return
	case aggSum, aggAvg:
		switch n.kind {
		case fkNum:
			d.addNum(p.w, readNum(v))
		case fkInt:
			d.addNum(p.w, float64(readInt(v)))
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
	if d.kind == aggLast { // fold's case for a scalar (setValue owns a string it keeps)
		if !v.IsNull() && (p.w[d.off] == 0 || eventTime >= int64(p.w[d.off+1])) {
			if c := v.Bits() ^ cellKey; d.direct && c > 1 {
				d.setCell(p, c)
			} else {
				d.setValue(p, v)
			}
			p.w[d.off+1] = uint64(eventTime)
		}
		return
	}
	if (d.kind == aggMin || d.kind == aggMax) && d.direct && !v.IsNull() { // fold's case for a cell it orders
		if d.cellOrdered() {
			if c, old := v.Bits()^cellKey, p.w[d.off]; c > 1 && old != 1 {
				if old == 0 || d.better(c^cellKey, old^cellKey) {
					d.setCell(p, c)
				}
				return
			}
		}
	}
	d.fold(p, v, eventTime)
}

// bareBits returns the cell bits (record.Value.Bits) of the value addBare folds for
// a bare field's value v (not null) of an aggregate with direct set, and
// false where that value is null (a NaN or an infinity read as a number).
func (d *aggDef) bareBits(v record.Value) (uint64, bool) {
	switch d.bare.kind {
	case fkNum:
		f := readNum(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return math.Float64bits(f), true
	case fkInt:
		return uint64(readInt(v)), true
	case fkBool:
		if v.Bool() {
			return 1, true
		}
		return 0, true
	case fkTime:
		return uint64(readTime(v)), true
	}
	panic("etl: bareBits of an aggregate without a cell kind")
}

// result merges the aggregate's state over rows [lo, hi) of its group's
// run: the panes a window's aggregate covers.
func (d *aggDef) result(run *paneRun, g *spanGroup, lo, hi int, scratch *hll) record.Value {
	switch d.kind {
	case aggCount, aggCountIf:
		var n int64
		for i := lo; i < hi; i++ {
			n += int64(run.w[i*g.stride+d.off])
		}
		return record.LongValue(n)
	case aggSum:
		var f float64
		for i := lo; i < hi; i++ {
			f += math.Float64frombits(run.w[i*g.stride+d.off])
		}
		return record.DoubleValue(f)
	case aggAvg:
		var f float64
		var n int64
		for i := lo; i < hi; i++ {
			n += int64(run.w[i*g.stride+d.off])
			f += math.Float64frombits(run.w[i*g.stride+d.off+1])
		}
		if n == 0 {
			return record.NullValue()
		}
		return record.DoubleValue(f / float64(n))
	case aggMin, aggMax:
		if v, ok := d.cellExtreme(run, g, lo, hi); ok {
			return v
		}
		var best record.Value
		for i := lo; i < hi; i++ {
			if run.w[i*g.stride+d.off] == 0 {
				continue
			}
			v := d.valueAt(run, g, i)
			if best.IsNull() {
				best = v
				continue
			}
			c := compareValues(v, best)
			if (d.kind == aggMin && c < 0) || (d.kind == aggMax && c > 0) {
				best = v
			}
		}
		return best
	case aggLast:
		best, bt := -1, int64(0) // the row of the latest value
		for i := lo; i < hi; i++ {
			if w := run.w[i*g.stride+d.off:]; w[0] != 0 && (best < 0 || int64(w[1]) >= bt) {
				best, bt = i, int64(w[1])
			}
		}
		if best < 0 {
			return record.NullValue()
		}
		return d.valueAt(run, g, best)
	case aggDistinct:
		var one *hll
		n := 0
		for i := lo; i < hi; i++ {
			if h := run.ext.hlls[i*g.nhll+d.hslot]; h != nil {
				one = h
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
		for i := lo; i < hi; i++ {
			if h := run.ext.hlls[i*g.nhll+d.hslot]; h != nil {
				scratch.merge(h)
			}
		}
		return record.LongValue(scratch.estimate())
	}
	return record.NullValue()
}

// cellExtreme is result's min or max over rows [lo, hi) read from the
// cells' bits, not from a value built per row, for a cell kind cellLess
// orders. It keeps the first of equal ones, as the loop over values does.
// It returns false where a row's value is spilled or the cell holds
// another kind: the caller's loop runs then.
func (d *aggDef) cellExtreme(run *paneRun, g *spanGroup, lo, hi int) (record.Value, bool) {
	if !d.cellOrdered() {
		return record.Value{}, false
	}
	var best uint64
	found := false
	for i := lo; i < hi; i++ {
		c := run.w[i*g.stride+d.off]
		if c == 0 {
			continue
		}
		if c == 1 {
			return record.Value{}, false
		}
		if n := c ^ cellKey; !found || d.better(n, best) {
			best, found = n, true
		}
	}
	if !found {
		return record.NullValue(), true
	}
	return record.FromBits(d.cell, best), true
}

// cellLess reports whether the value of cell bits a orders before that of
// b as compareValues orders values (longs and doubles as doubles,
// timestamps by their nanoseconds), for cells of timestamps, longs and
// doubles; ok is false for any other kind.
func (d *aggDef) cellLess(a, b uint64) (less, ok bool) {
	switch d.cell {
	case record.KindTimestamp:
		return int64(a) < int64(b), true
	case record.KindLong:
		return float64(int64(a)) < float64(int64(b)), true
	case record.KindDouble:
		return math.Float64frombits(a) < math.Float64frombits(b), true
	}
	return false, false
}

// cellOrdered reports whether cellLess orders the aggregate's cells.
func (d *aggDef) cellOrdered() bool {
	_, ok := d.cellLess(0, 0)
	return ok
}

// better reports whether a min or max aggregate keeps the value of cell
// bits a over that of b (a kind cellLess orders).
func (d *aggDef) better(a, b uint64) bool {
	if d.kind == aggMin {
		less, _ := d.cellLess(a, b)
		return less
	}
	less, _ := d.cellLess(b, a)
	return less
}

// compareValues orders two values of comparable kinds: numbers by value,
// strings bytewise, timestamps and dates in time; other kinds by text.
func compareValues(a, b record.Value) int {
	if a.Kind().IsNumeric() && b.Kind().IsNumeric() {
		x, _ := a.AsDouble()
		y, _ := b.AsDouble()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch a.Kind() {
	case record.KindTimestamp, record.KindDate:
		return cmpInt(a.Time().UnixNano(), b.Time().UnixNano())
	case record.KindString:
		return cmpStr(a.Str(), b.Str())
	}
	return cmpStr(a.Text(), b.Text())
}
