package etl

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// compactJobs are windows the compact layout is checked on against the
// reference operator: click-features' own (tumbling, 1-hour and 5-minute
// ranges, emitted on every event), a sliding window emitted on an interval
// with string values and ranges, a final-only one, and one of more span
// groups than the operator's stack buffers hold.
var compactJobs = []struct{ name, window string }{
	{"click-features", ""}, // the example's window
	{"sliding-interval", `
window:
  key: [product_id]
  type: sliding
  size: 60s
  slide: 20s
  allowed_lateness: 10s
  emit: interval
  interval: 1s
  aggregates:
    - {name: views, count_if: 'event_type == "view"'}
    - {name: n, count: true}
    - {name: users, approx_distinct: user_id}
    - {name: price, last: price}
    - {name: kind, last: event_type}
    - {name: low, min: price, over: 5m}
    - {name: high_type, max: event_type, over: 5m}
    - {name: avg_price, avg: price, over: 2m}
    - {name: spend, sum: 'price * quantity', over: 5m}
    - {name: first, min: event_time, over: 10m}
    - {name: users_10m, approx_distinct: user_id, over: 10m}
`},
	{"final", `
window:
  key: [product_id, device]
  size: 100s
  allowed_lateness: 30s
  emit: final
  aggregates:
    - {name: views_1h, count_if: 'event_type == "view"', over: 1h}
    - {name: last_type, last: event_type}
    - {name: revenue, sum: 'event_type == "purchase" ? price * quantity : 0'}
    - {name: top, max: price, over: 30m}
`},
	{"many-spans", `
window:
  key: [product_id]
  type: sliding
  size: 40s
  slide: 20s
  aggregates:
    - {name: price, last: price}
    - {name: price_1m, last: price, over: 1m}
    - {name: n_2m, count: true, over: 2m}
    - {name: low_5m, min: price, over: 5m}
    - {name: views_10m, count_if: 'event_type == "view"', over: 10m}
    - {name: kind_20m, last: event_type, over: 20m}
`},
}

// compactPlan compiles a job over click-features' source fields and joined
// fields (as plain fields: the test feeds records to the window directly)
// with the given window, or click-features' own.
func compactPlan(t testing.TB, window string) *Plan {
	t.Helper()
	if window == "" {
		b, err := os.ReadFile("../../examples/fastsneakers/click-features.yaml")
		require.NoError(t, err)
		s := string(b)
		window = s[strings.Index(s, "\nwindow:"):strings.Index(s, "\noutput:")]
	}
	src := `
name: compact
source:
  stream: clicks
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: event_time, type: timestamp}
    - {name: event_type, type: string}
    - {name: product_id, type: string}
    - {name: user_id, type: string}
    - {name: price, type: double}
    - {name: quantity, type: long}
    - {name: device, type: string}
    - {name: base_price, type: double}
    - {name: inventory, type: long}
    - {name: sales_units_1h, type: double}
    - {name: sales_revenue_1h, type: double}
` + window + `
sink: {stream: out, partition_key: product_id}
dead_letter: d
`
	s, err := Decode([]byte(src))
	require.NoError(t, err)
	p, err := Compile(context.Background(), s, nil)
	require.NoError(t, err)
	return p
}

// compactEvents returns n random events for keys of a product range:
// time mostly moving forward with some disorder, the odd late event and
// the odd jump (keys expire), nulls now and then.
func compactEvents(seed uint64, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	types := []string{"view", "view", "view", "click", "add_to_cart", "purchase", "remove_from_cart"}
	clock := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	var out [][]byte
	for i := range n {
		clock = clock.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		if rng.IntN(2000) == 0 {
			clock = clock.Add(time.Duration(1+rng.IntN(3)) * time.Hour)
		}
		at := clock.Add(-time.Duration(rng.IntN(40_000)) * time.Millisecond)
		if rng.IntN(60) == 0 {
			at = clock.Add(-time.Duration(rng.IntN(90)) * time.Minute) // late, or not for long ranges
		}
		null := func(s string) string {
			if rng.IntN(15) == 0 {
				return "null"
			}
			return s
		}
		out = append(out, fmt.Appendf(nil, `{"event_time":%q,"event_type":%s,"product_id":"%d","user_id":%s,"price":%s,"quantity":%d,"device":%q,"base_price":%s,"inventory":%d,"sales_units_1h":%d,"sales_revenue_1h":%d.25}`,
			at.Format(time.RFC3339Nano), null(fmt.Sprintf("%q", types[rng.IntN(len(types))])), 44600000+rng.IntN(12)*rng.IntN(12),
			null(fmt.Sprintf(`"u%d"`, rng.IntN(300))), null(fmt.Sprintf("%d.5", rng.IntN(200)-20)), 1+rng.IntN(3),
			[]string{"mobile", "desktop"}[rng.IntN(2)], null("40.0"), rng.IntN(100), rng.IntN(9), i%100))
	}
	return out
}

// compactDriver feeds events to a window operator and the reference and
// records what each emits.
type compactDriver struct {
	p         *Plan
	dec       record.Record
	ev        exprEval
	win       *windowOp
	ref       *refWindowOp
	got, ref_ []string
	now       int64
	seq       uint64
}

func newCompactDriver(p *Plan) *compactDriver {
	pos := func(m srcMeta) string { return fmt.Sprintf("%d:%d", m.seq, m.index) }
	return &compactDriver{p: p, win: newWindowOp(p.window, pos), ref: newRefWindowOp(p.window, pos)}
}

func (c *compactDriver) emitTo(dst *[]string, posText func(srcMeta) string) emitFunc {
	return func(row *record.Record, m srcMeta) error {
		*dst = append(*dst, rowText(row)+" @"+posText(m))
		return nil
	}
}

func (c *compactDriver) add(t testing.TB, data []byte) {
	t.Helper()
	c.seq++
	c.now += int64(time.Duration(c.seq%7) * 100 * time.Millisecond)
	require.NoError(t, c.p.decoder.Decode(data, &c.dec))
	et, err := eventNanos(&c.dec, record.NewRef(c.p.eventTime), c.p.eventTime, 0)
	require.NoError(t, err)
	m := srcMeta{seq: c.seq, arrival: c.now - int64(c.seq%5)*int64(time.Second)}
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	e1 := c.win.add(&c.dec, et, m, &c.ev, c.now, c.emitTo(&c.got, c.win.posText))
	e2 := c.ref.add(&c.dec, et, m, &c.ev, c.now, c.emitTo(&c.ref_, c.ref.posText))
	require.Equal(t, errText(e2), errText(e1), "event %d", c.seq)
	if e1 != nil {
		c.got = append(c.got, "error "+e1.Error())
		c.ref_ = append(c.ref_, "error "+e2.Error())
	}
}

// flush emits the interval rows due; the rows of one flush are compared
// in key order, as a restore orders the keys due (before, in the order they
// became due).
func (c *compactDriver) flush(t testing.TB) {
	t.Helper()
	g, r := len(c.got), len(c.ref_)
	require.NoError(t, c.win.flushDue(c.now, c.emitTo(&c.got, c.win.posText)))
	require.NoError(t, c.ref.flushDue(c.now, c.emitTo(&c.ref_, c.ref.posText)))
	slices.Sort(c.got[g:])
	slices.Sort(c.ref_[r:])
}

// TestETLWindowCompactMatchesReference: the window operator emits the same
// rows, in the same order, as the reference operator (the layout of a
// partial per aggregate per pane) for random event sequences with late
// events and expiring keys, through checkpoints restored mid-stream from a
// full state and from a chain of deltas.
func TestETLWindowCompactMatchesReference(t *testing.T) {
	for _, job := range compactJobs {
		t.Run(job.name, func(t *testing.T) {
			p := compactPlan(t, job.window)
			for seed := range uint64(4) {
				c := newCompactDriver(p)
				rng := rand.New(rand.NewPCG(seed, 11))
				restored := newWindowOp(p.window, c.win.posText)
				require.NoError(t, restored.restoreState(c.win.appendState(nil)))
				events := compactEvents(seed, 3000)
				for i, ev := range events {
					c.add(t, ev)
					if rng.IntN(20) == 0 {
						c.flush(t)
					}
					switch r := rng.IntN(200); {
					case r == 0: // restore from a full state
						b := c.win.appendState(nil)
						c.win = newWindowOp(p.window, c.win.posText)
						require.NoError(t, c.win.restoreState(b), "event %d", i)
						restored = newWindowOp(p.window, c.win.posText)
						require.NoError(t, restored.restoreState(c.win.appendState(nil)))
					case r < 20: // a delta; now and then go on from the chain
						require.NoError(t, restored.applyDelta(c.win.appendDelta(nil)))
						if r < 3 {
							require.Equal(t, string(c.win.encodeState(nil)), string(restored.encodeState(nil)), "event %d", i)
							c.win, restored = restored, newWindowOp(p.window, c.win.posText)
							require.NoError(t, restored.restoreState(c.win.appendState(nil)))
						}
					}
				}
				c.flush(t)
				require.Greater(t, len(c.ref_), 1000)
				require.Equal(t, c.ref_, c.got, "seed %d", seed)
			}
		})
	}
}

var writeV1State = flag.Bool("write-v1-state", false, "write testdata/window_state_v1.* (with the layout of version 1 only)")

// TestETLWindowStateV1Restores: a checkpoint of version 1, a full state and
// a delta as the layout of a partial per aggregate per pane wrote them,
// restores, and the window goes on emitting the rows the reference does.
func TestETLWindowStateV1Restores(t *testing.T) {
	p := compactPlan(t, "")
	events := compactEvents(42, 4000)
	if *writeV1State {
		c := newCompactDriver(p)
		for _, ev := range events[:2000] {
			c.add(t, ev)
		}
		require.NoError(t, os.WriteFile("testdata/window_state_v1.full", c.win.appendState(nil), 0o644))
		for _, ev := range events[2000:2500] {
			c.add(t, ev)
		}
		require.NoError(t, os.WriteFile("testdata/window_state_v1.delta", c.win.appendDelta(nil), 0o644))
		return
	}
	full, err := os.ReadFile("testdata/window_state_v1.full")
	require.NoError(t, err)
	delta, err := os.ReadFile("testdata/window_state_v1.delta")
	require.NoError(t, err)
	c := newCompactDriver(p)
	for _, ev := range events[:2500] {
		c.add(t, ev)
	}
	c.got, c.ref_ = nil, nil
	c.win = newWindowOp(p.window, c.win.posText)
	require.NoError(t, c.win.restoreState(full))
	require.NoError(t, c.win.applyDelta(delta))
	for _, ev := range events[2500:] {
		c.add(t, ev)
	}
	require.Greater(t, len(c.ref_), 1000)
	require.Equal(t, c.ref_, c.got)
}
