package trigger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// setEnabled turns trigger name on or off and waits until its partitions
// are in that state.
func (e *env) setEnabled(name string, on bool) {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.m.SetEnabled(ctx, name, on)
	require.NoError(e.t, err)
	waitFor(e.t, 10*time.Second, func() error {
		st, err := e.m.Describe(ctx, name)
		if err != nil {
			return err
		}
		if (st.State == "disabled") == on {
			return fmt.Errorf("state %s", st.State)
		}
		return nil
	})
}

// TestTriggerReadAfter: records carry the checkpoint their reading began
// after: none for a trigger's first reading, the last record done with
// for a reading resumed.
func TestTriggerReadAfter(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("a", rec))
	e.apply("name: resumed\nsource: stream:clicks\nfunction: go:a\n")
	e.put(s, 5, 1, keyN(1), dataN)
	rec.waitCount(t, 5)
	e.setEnabled("resumed", false)
	e.put(s, 3, 1, keyN(1), func(i int) string { return dataN(5 + i) })
	e.setEnabled("resumed", true)
	rec.waitCount(t, 8)
	evs := rec.snapshot()
	require.Len(t, evs, 8)
	for _, ev := range evs[:5] {
		require.Empty(t, ev.ReadAfter, "the first reading began at the starting position")
	}
	for _, ev := range evs[5:] {
		require.Equal(t, evs[4].Seq, ev.ReadAfter, "resumed after the last record done with")
	}
}

// TestTriggerSourceCreatedAgain deletes a trigger's source stream and
// creates it again under its name while the trigger is disabled, as an
// operator might: the new stream stores records at sequences the
// trigger's checkpoint has passed, as a stream that lost its unsynced tail
// to a power failure does. The trigger must deliver them, not skip them,
// whether the new stream ends before the checkpoint or past it.
func TestTriggerSourceCreatedAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.createStream("clicks", 1)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("a", rec))
	e.apply("name: again\nsource: stream:clicks\nfunction: go:a\n")
	e.put(s, 10, 1, keyN(1), dataN)
	rec.waitCount(t, 10)

	again := func(n, from int) {
		t.Helper()
		e.setEnabled("again", false)
		require.NoError(t, e.streams.Delete(ctx, "clicks"))
		s = e.createStream("clicks", 1)
		e.put(s, n, 1, keyN(1), func(i int) string { return dataN(from + i) })
		e.setEnabled("again", true)
	}
	again(3, 10) // ends before the checkpoint
	rec.waitCount(t, 13)
	requireCounter(t, e, "pricestream_trigger_checkpoints_past_end_total", 1)
	again(6, 13) // ends past the checkpoint (3)
	rec.waitCount(t, 19)
	requireCounter(t, e, "pricestream_trigger_checkpoints_past_end_total", 2)
	requireInOrder(t, rec.snapshot(), 19, 1)
}

// TestTriggerTableCreatedAgain is TestTriggerSourceCreatedAgain for a
// table's change stream.
func TestTriggerTableCreatedAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := table.Spec{Name: "features", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}, StreamView: table.ViewNewImage}
	create := func() *table.Table {
		_, err := e.tables.Create(ctx, spec)
		require.NoError(t, err)
		tb, err := e.tables.Open(ctx, spec.Name)
		require.NoError(t, err)
		return tb
	}
	put := func(tb *table.Table, from, n int) {
		for i := from; i < from+n; i++ {
			_, err := tb.Put(ctx, item.Item{"pk": item.StringValue(fmt.Sprintf("k%03d", i))}, table.WriteOptions{})
			require.NoError(t, err)
		}
	}
	tb := create()
	rec := &recorder{}
	require.NoError(t, e.fns.Register("a", rec))
	e.apply("name: again\nsource: table:features\nfunction: go:a\n")
	put(tb, 0, 10)
	rec.waitCount(t, 10)

	again := func(from, n int) {
		t.Helper()
		e.setEnabled("again", false)
		require.NoError(t, e.tables.Delete(ctx, spec.Name))
		tb = create()
		put(tb, from, n)
		e.setEnabled("again", true)
	}
	again(10, 3)
	rec.waitCount(t, 13)
	requireCounter(t, e, "pricestream_trigger_checkpoints_past_end_total", 1)
	again(13, 6)
	rec.waitCount(t, 19)
	requireCounter(t, e, "pricestream_trigger_checkpoints_past_end_total", 2)
	keys := map[string]bool{}
	for _, ev := range rec.snapshot() {
		keys[ev.Key] = true
	}
	require.Len(t, keys, 19)
}
