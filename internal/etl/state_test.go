package etl

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLStateDeltaChain: a full state followed by deltas, applied in
// order, gives the state as it is, for the Fast Sneakers click-features
// window (17 aggregates, 1-hour ranges, an approximate distinct count)
// and an interval-emitting sliding window, through events for many keys
// out of order, late events, windows closing and keys expiring.
func TestETLStateDeltaChain(t *testing.T) {
	spec, err := os.ReadFile("../../examples/fastsneakers/click-features.yaml")
	require.NoError(t, err)
	interval := `
name: interval
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
window:
  key: [product_id]
  type: sliding
  size: 60s
  slide: 20s
  emit: interval
  interval: 1s
  aggregates:
    - {name: views, count_if: 'event_type == "view"'}
    - {name: users, approx_distinct: user_id}
    - {name: price, last: price}
    - {name: spend, sum: price, over: 5m}
sink: {stream: out, partition_key: product_id}
dead_letter: d
`
	for _, c := range []struct {
		name string
		spec []byte
	}{{"click-features", spec}, {"interval", []byte(interval)}} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Decode(c.spec)
			require.NoError(t, err)
			p, err := Compile(context.Background(), s, nil)
			require.NoError(t, err)
			t.Run("now", func(t *testing.T) { testDeltaChain(t, p, captureNone) })
			// The checkpointer encodes a copy of the state taken on the
			// worker while the worker goes on: the copy must encode the
			// state as it was when taken.
			t.Run("captured", func(t *testing.T) { testDeltaChain(t, p, captureAtOnce) })
			// The copy is taken copy-on-write: the keys are copied in
			// slices between the next records, or when a record changes
			// them first; still the state as it was when the capture
			// began.
			t.Run("copy-on-write", func(t *testing.T) { testDeltaChain(t, p, captureLazily) })
		})
	}
}

// How testDeltaChain takes its states: encoded at once, captured at once
// and encoded after the next records, or captured copy-on-write while the
// next records come.
const (
	captureNone = iota
	captureAtOnce
	captureLazily
)

func testDeltaChain(t *testing.T, p *Plan, mode int) {
	captured := mode != captureNone
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	lookups := map[string]*Lookup{}
	for i := range p.spec.Joins {
		lookups[p.spec.Joins[i].Table] = newLookup(&p.spec.Joins[i], p.joinTypes[i])
	}
	pr := newProcessor(p, func(name string) *Lookup { return lookups[name] }, func(context.Context, string, *record.Record, srcMeta) error { return nil })
	pos := func(srcMeta) string { return "0" }
	live := newWindowOp(p.window, pos)
	var restored *windowOp
	var fulls, deltas int
	pend := func(w *windowOp) []string {
		var ks []string
		for _, k := range w.pending {
			// A dropped key may stay in the live list, without effect.
			if k.pending && w.keys[k.key] == k {
				ks = append(ks, k.key)
			}
		}
		slices.Sort(ks)
		return slices.Compact(ks)
	}
	check := func() {
		t.Helper()
		want := live.encodeState(nil)
		require.Equal(t, string(want), string(restored.encodeState(nil)), "after %d full states and %d deltas", fulls, deltas)
		require.Equal(t, pend(live), pend(restored))
	}
	// captured: the state taken at the end of the previous step, with
	// what it should restore to, applied after this step's events.
	var taken *windowOp
	var takenFull bool
	var wantState []byte
	var wantPending []string
	applyTaken := func() {
		t.Helper()
		if taken == nil {
			return
		}
		if takenFull {
			restored = newWindowOp(p.window, pos)
			require.NoError(t, restored.restoreState(taken.encodeState(nil)))
		} else {
			require.NoError(t, restored.applyDelta(taken.appendDelta(nil)))
		}
		if wantState != nil {
			require.Equal(t, string(wantState), string(restored.encodeState(nil)), "after %d full states and %d deltas", fulls, deltas)
			require.Equal(t, wantPending, pend(restored))
		}
	}
	base := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	clock := base
	now := int64(0)
	types := []string{"view", "view", "view", "click", "add_to_cart", "purchase", "remove_from_cart"}
	seq := uint64(0)
	for step := range 150 {
		// A burst of events: most keys quiet, a few hot, time mostly
		// moving forward with some disorder and the odd late event.
		for range 1 + rng.IntN(60) {
			clock = clock.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
			at := clock.Add(-time.Duration(rng.IntN(8000)) * time.Millisecond)
			if rng.IntN(50) == 0 {
				at = clock.Add(-20 * time.Minute) // late
			}
			key := fmt.Sprint(44600000 + rng.IntN(20)*rng.IntN(20))
			ev := fmt.Sprintf(`{"event_id":"e%d","event_time":%q,"event_type":%q,"product_id":%q,"user_id":"u%d","session_id":"s","price":%d.5,"quantity":1,"referrer":"search","device":"mobile"}`,
				seq, at.Format(time.RFC3339Nano), types[rng.IntN(len(types))], key, rng.IntN(200), 20+rng.IntN(100))
			seq++
			now += int64(rng.IntN(300)) * int64(time.Millisecond)
			pr.now = func() int64 { return now }
			_, _, err := pr.processData(ctx, live, []byte(ev), srcMeta{seq: seq, arrival: now})
			require.NoError(t, err)
			if live.capturing() && rng.IntN(4) == 0 {
				live.captureStep(rng.IntN(3))
			}
		}
		if rng.IntN(3) == 0 {
			require.NoError(t, pr.flushDue(ctx, live))
		}
		if mode == captureLazily && live.capturing() {
			taken = live.finishCapture()
		}
		if captured {
			applyTaken()
			takenFull = step == 0 || rng.IntN(25) == 0
			switch {
			case mode == captureLazily:
				live.beginCapture(takenFull)
				taken = nil
			case takenFull:
				taken = live.captureFull()
			default:
				taken = live.captureDelta()
			}
			if takenFull {
				fulls++
			} else {
				deltas++
			}
			wantState, wantPending = nil, nil
			if takenFull || step%10 == 9 { // comparing whole states is the slow part
				wantState, wantPending = live.encodeState(nil), pend(live)
			}
			continue
		}
		if step == 0 || rng.IntN(25) == 0 {
			b := live.appendState(nil)
			restored = newWindowOp(p.window, pos)
			require.NoError(t, restored.restoreState(b))
			fulls++
		} else {
			require.NoError(t, restored.applyDelta(live.appendDelta(nil)))
			deltas++
		}
		if step%10 == 9 { // comparing whole states is the slow part
			check()
		}
	}
	require.Greater(t, deltas, 100)
	require.NotEmpty(t, live.keys)
}

// TestETLCheckpointChain: checkpoints store the window state as a full
// state and deltas in chunks; a new manager restores it through the chain
// and the windows go on counting; replaced states are removed.
func TestETLCheckpointChain(t *testing.T) {
	env := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	src, features := env.clicksAndFeatures(t, 1)

	m, stop := env.startManager(t)
	m.stateChunk.Store(256) // many chunks per state
	spec, err := Decode([]byte(countJob))
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	st, err := m.state(ctx)
	require.NoError(t, err)
	tryHead := func() (*checkpointData, error) {
		e, err := st.Get(ctx, "counts.0")
		if err != nil {
			return nil, err
		}
		return decodeCheckpoint(e.Value())
	}
	head := func() *checkpointData {
		c, err := tryHead()
		require.NoError(t, err)
		return c
	}
	const products = 20
	sent := 0
	maxDeltas, bases := 0, map[uint64]bool{}
	for round := range 12 {
		var evs []string
		for i := range products {
			evs = append(evs, clickAt(round*5+i%5, "view", fmt.Sprintf("p%02d", i), 1))
		}
		put(t, src, evs...)
		sent += products
		// Wait for a checkpoint that covers the round.
		waitFor(t, 10*time.Second, func() error {
			c, err := tryHead()
			if err != nil {
				return err
			}
			if c.in != uint64(sent) {
				return fmt.Errorf("checkpoint covers %d records, want %d", c.in, sent)
			}
			return nil
		})
		c := head()
		require.Positive(t, c.chain.base)
		bases[c.chain.base] = true
		maxDeltas = max(maxDeltas, len(c.chain.deltas))
	}
	require.Positive(t, maxDeltas, "checkpoints wrote deltas")
	require.Greater(t, len(bases), 1, "and full states again as the deltas added up")
	c := head()
	require.Greater(t, c.chain.baseChunks, uint32(1), "a state in several chunks")
	slotKeys := func() (mine, other int) {
		keys, err := st.ListKeysFiltered(ctx, "counts.0.>")
		require.NoError(t, err)
		prefix := fmt.Sprintf("counts.0.s%d.", head().chain.base%2)
		for k := range keys.Keys() {
			if strings.HasPrefix(k, prefix) {
				mine++
			} else {
				other++
			}
		}
		return mine, other
	}
	mine, other := slotKeys()
	require.GreaterOrEqual(t, mine, int(c.chain.baseChunks))
	require.Positive(t, other, "the replaced state's slot, until a run starts")

	// A new manager restores the state through the chain: the window goes
	// on counting where it was.
	before := head().chain.base
	stop()
	m, stop = env.startManager(t)
	m.stateChunk.Store(256)
	var evs []string
	for i := range products {
		evs = append(evs, clickAt(60+i%5, "view", fmt.Sprintf("p%02d", i), 1))
	}
	put(t, src, evs...)
	for i := range products {
		waitFor(t, 10*time.Second, func() error {
			it, err := features.Get(ctx, item.Key{Partition: item.StringValue(fmt.Sprintf("p%02d", i))}, table.GetOptions{})
			if err != nil {
				return err
			}
			if it == nil || it["views"].N().String() != "13" {
				return fmt.Errorf("p%02d row %v, want 13 views", i, it)
			}
			return nil
		})
	}
	// Stopped, nothing writes: unless a full state was committed since the
	// start (which goes to the other slot), the other slot is empty.
	stop()
	if head().chain.base == before {
		_, other = slotKeys()
		require.Zero(t, other, "a starting run removes the other slot")
	}

	// A status read restores the checkpoint too, but must not remove what
	// a job running elsewhere writes into the other slot before its head.
	inFlight := fmt.Sprintf("counts.0.s%d.0", (head().chain.base+1)%2)
	_, err = st.Put(ctx, inFlight, []byte("a full state being written"))
	require.NoError(t, err)
	m2, err := New(Config{}, Deps{Engine: env.eng, Streams: env.streams, Tables: env.tables, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err) // not running: the job runs nowhere here
	_, err = m2.Status(ctx, "counts")
	require.NoError(t, err)
	_, err = st.Get(ctx, inFlight)
	require.NoError(t, err, "a status read removed another run's chunk")
}
