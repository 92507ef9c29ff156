package etl

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLDatadriven runs the scripts in testdata/: windows, joins and
// resume from a checkpoint. Commands:
//
//	job                   compile the YAML job in the input
//	table name=T key=K    hold table T (items as JSON lines) for joins
//	change name=T seq=N   apply a change (an item; "delete KEY" removes)
//	add [seq=N]           process JSON records, one per line
//	restore               checkpoint the window state and restore it into a new operator
//	clock now=DURATION    set the wall clock (interval emission)
//	flush                 emit the interval rows that are due
//	watermark             print the watermark
func TestETLDatadriven(t *testing.T) {
	datadriven.Walk(t, "testdata/script", func(t *testing.T, path string) {
		var h ddHarness
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string { return h.run(t, d) })
	})
}

type ddHarness struct {
	plan    *Plan
	pr      *processor
	win     *windowOp
	lookups map[string]*Lookup
	seq     uint64
	now     int64
	out     strings.Builder
}

func (h *ddHarness) run(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	h.out.Reset()
	switch d.Cmd {
	case "job":
		spec, err := Decode([]byte(d.Input))
		if err != nil {
			return err.Error() + "\n"
		}
		p, err := Compile(ctx, spec, nil)
		if err != nil {
			return err.Error() + "\n"
		}
		h.plan = p
		key := []string{}
		if d.HasArg("sink-key") {
			var k string
			d.ScanArgs(t, "sink-key", &k)
			key = strings.Split(k, ",")
		}
		p.setLatestOnly(key)
		if h.lookups == nil {
			h.lookups = map[string]*Lookup{}
		}
		h.pr = newProcessor(p, func(name string) *Lookup { return h.lookups[name] }, h.sink)
		h.pr.now = func() int64 { return h.now }
		if p.window != nil {
			h.win = newWindowOp(p.window, func(m srcMeta) string { return fmt.Sprintf("%d:%d", m.seq, m.index) })
		}
		return "ok\n"
	case "table":
		var name, key string
		d.ScanArgs(t, "name", &name)
		d.ScanArgs(t, "key", &key)
		var spec *JoinSpec
		var types []*record.Type
		for i, j := range h.plan.joins {
			if j.Table == name {
				spec, types = j, h.plan.joinTypes[i]
			}
		}
		l := newLookup(spec, types)
		l.key = key
		for _, line := range lines(d.Input) {
			it, err := item.ParseJSON([]byte(line), "item")
			if err != nil {
				t.Fatal(err)
			}
			k, r := l.row(it)
			l.mu.rows.set(k, r)
		}
		h.lookups[name] = l
		return fmt.Sprintf("%d rows\n", l.Len())
	case "change":
		var name string
		var seq uint64
		d.ScanArgs(t, "name", &name)
		d.ScanArgs(t, "seq", &seq)
		l := h.lookups[name]
		in := strings.TrimSpace(d.Input)
		if k, ok := strings.CutPrefix(in, "delete "); ok {
			l.mu.Lock()
			l.mu.rows.remove(k)
			l.mu.Unlock()
			l.seq.Store(seq)
		} else {
			it, err := item.ParseJSON([]byte(in), "item")
			if err != nil {
				t.Fatal(err)
			}
			k, r := l.row(it)
			l.mu.Lock()
			l.mu.rows.set(k, r)
			l.mu.Unlock()
			l.seq.Store(seq)
		}
		return "ok\n"
	case "add":
		for _, line := range lines(d.Input) {
			h.seq++
			m := srcMeta{seq: h.seq, arrival: h.now}
			o, re, err := h.pr.processData(ctx, h.win, []byte(line), m)
			if err != nil {
				t.Fatal(err)
			}
			switch o {
			case outFiltered:
				fmt.Fprintf(&h.out, "#%d filtered\n", h.seq)
			case outDead:
				fmt.Fprintf(&h.out, "#%d dead %s %s: %v\n", h.seq, re.Stage, re.Reason, re.Err)
			}
		}
		return h.out.String()
	case "restore":
		b := h.win.appendState(nil)
		w := newWindowOp(h.plan.window, h.win.posText)
		if err := w.restoreState(b); err != nil {
			return err.Error() + "\n"
		}
		if string(w.appendState(nil)) != string(b) {
			t.Fatal("state does not round-trip")
		}
		h.win = w
		return fmt.Sprintf("restored %d keys\n", len(w.keys))
	case "clock":
		var s string
		d.ScanArgs(t, "now", &s)
		dur, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		h.now = dur.Nanoseconds()
		return "ok\n"
	case "flush":
		if err := h.pr.flushDue(ctx, h.win); err != nil {
			t.Fatal(err)
		}
		return h.out.String()
	case "watermark":
		wm := h.win.watermark()
		if wm == math.MinInt64 {
			return "none\n"
		}
		return time.Unix(0, wm).UTC().Format(time.RFC3339) + "\n"
	}
	t.Fatalf("unknown command %s", d.Cmd)
	return ""
}

func (h *ddHarness) sink(_ context.Context, name string, row *record.Record, _ srcMeta) error {
	if name == "" {
		name = "sink"
	}
	fmt.Fprintf(&h.out, "%s %s\n", name, rowText(row))
	return nil
}

// rowText prints a row compactly: timestamps as times of day.
func rowText(r *record.Record) string {
	var b strings.Builder
	for i, f := range r.Fields() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name)
		b.WriteByte('=')
		switch f.Value.Kind() {
		case record.KindTimestamp:
			b.WriteString(f.Value.Time().Format("15:04:05"))
		case record.KindString:
			b.WriteString(f.Value.Str())
		default:
			b.WriteString(f.Value.String())
		}
	}
	return b.String()
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
