package etl

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLRunCheckpointPastEnd re-creates a job's source stream under its
// name while the job is stopped, as an operator might: the stream stores
// its records at sequences the job's checkpoint has already passed, as
// after a power failure that lost the stream's unsynced tail. The job must
// read them, not skip them, and say so; also when the new stream holds
// more records than the checkpoint passed.
func TestETLRunCheckpointPastEnd(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	src, features := e.clicksAndFeatures(t, 1)
	m := startCounts(t, e)
	waitState := func(state string, in uint64) {
		t.Helper()
		waitFor(t, 10*time.Second, func() error {
			st, err := m.Status(ctx, "counts")
			if err != nil {
				return err
			}
			if st.State != state || st.RecordsIn != in {
				return fmt.Errorf("state %s, %d records in; want %s, %d", st.State, st.RecordsIn, state, in)
			}
			return nil
		})
	}
	// views sends n views at seconds from, from+1, … and waits until the
	// job has read in records in all and its row counts them.
	views := func(from, n int, in uint64) {
		t.Helper()
		for i := range n {
			put(t, src, clickAt(from+i, "view", "p1", 1))
		}
		waitState(StateRunning, in)
		waitFor(t, 10*time.Second, func() error {
			it, err := features.Get(ctx, item.Key{Partition: item.StringValue("p1")}, table.GetOptions{Consistent: true})
			if err != nil {
				return err
			}
			if got, want := it["views"].N().String(), strconv.FormatUint(in, 10); got != want {
				return fmt.Errorf("views %s, want %s", got, want)
			}
			return nil
		})
	}
	stop := func(in uint64) {
		t.Helper()
		require.NoError(t, m.Stop(ctx, "counts"))
		waitState(StateStopped, in)
	}
	// recreate deletes the stopped job's source and creates it again.
	recreate := func() {
		t.Helper()
		require.NoError(t, e.streams.Delete(ctx, "clicks"))
		_, err := e.streams.Create(ctx, stream.Spec{Name: "clicks", Partitions: 1})
		require.NoError(t, err)
		src, err = e.streams.Open(ctx, "clicks")
		require.NoError(t, err)
	}
	pastEnd := func() float64 { return testutil.ToFloat64(m.metrics.pastEnd.WithLabelValues("counts")) }

	views(0, 10, 10)
	stop(10)
	recreate()
	require.NoError(t, m.Start(ctx, "counts"))
	views(20, 3, 13) // the new stream ends before the checkpoint
	require.Equal(t, 1.0, pastEnd())

	// A checkpoint inside the stream resumes after it, as always.
	stop(13)
	require.NoError(t, m.Start(ctx, "counts"))
	views(30, 1, 14)
	require.Equal(t, 1.0, pastEnd())

	// Created again and given more records than the checkpoint passed
	// before the job starts: the checkpoint is inside the new stream, but
	// belongs to the old one.
	stop(14)
	recreate()
	for i := range 6 {
		put(t, src, clickAt(40+i, "view", "p1", 1))
	}
	require.NoError(t, m.Start(ctx, "counts"))
	views(50, 0, 20)
	require.Equal(t, 2.0, pastEnd())
}

// startCounts applies countJob to a manager running on e.
func startCounts(tb testing.TB, e *testEnv) *Manager {
	tb.Helper()
	m, _ := e.startManager(tb)
	spec, err := Decode([]byte(countJob))
	require.NoError(tb, err)
	_, err = m.Apply(context.Background(), spec)
	require.NoError(tb, err)
	return m
}

// TestETLCheckpointSource round-trips the source's creation time in a
// checkpoint head, and reads heads written before it was kept (which end
// before it) as not knowing it.
func TestETLCheckpointSource(t *testing.T) {
	c := &checkpointData{print: "p", source: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixNano(), has: true, seq: 42, index: 3, offset: 99, in: 7,
		chain: stateChain{base: 5, baseChunks: 2, baseBytes: 100, deltaBytes: 10, deltas: []uint32{1, 2}}}
	b := c.encode()
	got, err := decodeCheckpoint(b)
	require.NoError(t, err)
	require.Equal(t, c.source, got.source)
	require.Equal(t, c.seq, got.seq)
	require.Equal(t, c.chain.deltas, got.chain.deltas)

	c.source = 0
	old := c.encode()
	old = old[:len(old)-1] // varint 0 is one byte: a head from before
	got, err = decodeCheckpoint(old)
	require.NoError(t, err)
	require.Zero(t, got.source)
	require.Equal(t, c.chain.deltas, got.chain.deltas)
}

// TestETLStatusFollowsDefinition reads Status across the changes of a
// job's definition: the definitions Status decodes are kept by revision,
// so each change must show at once.
func TestETLStatusFollowsDefinition(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	e.clicksAndFeatures(t, 1)
	m := startCounts(t, e)
	for _, want := range []string{StateRunning, StateStopped, StateRunning} {
		switch want {
		case StateStopped:
			require.NoError(t, m.Stop(ctx, "counts"))
		case StateRunning:
			require.NoError(t, m.Start(ctx, "counts"))
		}
		for range 3 {
			st, err := m.Status(ctx, "counts")
			require.NoError(t, err)
			require.Equal(t, want, st.Desired)
		}
		src, err := m.SourceStream(ctx, "counts")
		require.NoError(t, err)
		require.Equal(t, "clicks", src)
	}
	require.NoError(t, m.Delete(ctx, "counts"))
	_, err := m.Status(ctx, "counts")
	require.ErrorIs(t, err, ErrNotFound)
	spec, err := Decode([]byte(countJob))
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	st, err := m.Status(ctx, "counts")
	require.NoError(t, err)
	require.Equal(t, StateRunning, st.Desired)
}
