package etl

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// stateEvents runs a fixed stream of n events (seeded) through the
// click-features window, for the given number of products: a full state
// is taken after the first fullAt events and a delta at the end. It
// returns the window as it is then, and the two encodings.
func stateEvents(t testing.TB, products, fullAt, n int) (live *windowOp, full, delta []byte) {
	t.Helper()
	p := clickFeatures(t)
	lookups := map[string]*Lookup{}
	for i := range p.spec.Joins {
		lookups[p.spec.Joins[i].Table] = newLookup(&p.spec.Joins[i], p.joinTypes[i])
	}
	pr := newProcessor(p, func(name string) *Lookup { return lookups[name] }, func(context.Context, string, *record.Record, srcMeta) error { return nil })
	live = newWindowOp(p.window, func(srcMeta) string { return "0" })
	rng := rand.New(rand.NewPCG(3, 4))
	clock := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	types := []string{"view", "view", "view", "click", "add_to_cart", "purchase", "remove_from_cart"}
	now := int64(0)
	for i := range n {
		if i == fullAt {
			full = live.appendState(nil)
		}
		clock = clock.Add(time.Duration(rng.IntN(6000)) * time.Millisecond)
		at := clock.Add(-time.Duration(rng.IntN(8000)) * time.Millisecond)
		ev := fmt.Sprintf(`{"event_id":"e%d","event_time":%q,"event_type":%q,"product_id":"%d","user_id":"u%d","session_id":"s","price":%d.5,"quantity":1,"referrer":"search","device":"mobile"}`,
			i, at.Format(time.RFC3339Nano), types[rng.IntN(len(types))], 44600000+rng.IntN(products), rng.IntN(200), 20+rng.IntN(100))
		now += int64(rng.IntN(300)) * int64(time.Millisecond)
		pr.now = func() int64 { return now }
		_, _, err := pr.processData(context.Background(), live, []byte(ev), srcMeta{seq: uint64(i + 1), arrival: now})
		require.NoError(t, err)
	}
	delta = live.appendDelta(nil)
	return live, full, delta
}

// clickFeatures compiles the Fast Sneakers click-features job.
func clickFeatures(t testing.TB) *Plan {
	t.Helper()
	spec, err := os.ReadFile("../../examples/fastsneakers/click-features.yaml")
	require.NoError(t, err)
	s, err := Decode(spec)
	require.NoError(t, err)
	p, err := Compile(context.Background(), s, nil)
	require.NoError(t, err)
	return p
}

// FuzzETLWindowState: a checkpoint's window state or delta that does not
// decode is an error, never a panic, and one that decodes encodes to a
// state that restores to itself.
//
// The seeds are small states (three products, a few panes each): the
// fuzzer minimizes every input it finds interesting, which for states of
// tens of kilobytes takes minutes each. A version 1 state is what the
// fuzzer makes of them by changing their first byte.
func FuzzETLWindowState(f *testing.F) {
	_, full, delta := stateEvents(f, 3, 20, 40)
	f.Add(full, false)
	f.Add(delta, true)
	f.Add(append([]byte{1}, full[1:]...), false)
	f.Add(full[:len(full)/2], false)
	def := clickFeatures(f).window
	pos := func(srcMeta) string { return "0" }
	f.Fuzz(func(t *testing.T, b []byte, isDelta bool) {
		w := newWindowOp(def, pos)
		var err error
		if isDelta {
			require.NoError(t, w.restoreState(full))
			err = w.applyDelta(b)
		} else {
			err = w.restoreState(b)
		}
		if err != nil {
			return
		}
		again := w.encodeState(nil)
		w2 := newWindowOp(def, pos)
		require.NoError(t, w2.restoreState(again))
		require.Equal(t, again, w2.encodeState(nil))
	})
}
