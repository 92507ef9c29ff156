package etl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLRunAtTimestampParallelLookup: a job that starts at_timestamp
// skips what arrived before; two workers over four partitions keep each
// key's records in order (the last n equals the highest); the lookup
// follows the joined table's changes while the job runs; a job without a
// window appends its records to a stream sink.
func TestETLRunAtTimestampParallelLookup(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	_, err := e.streams.Create(ctx, stream.Spec{Name: "clicks", Partitions: 4})
	require.NoError(t, err)
	for _, name := range []string{"features", "products"} {
		_, err = e.tables.Create(ctx, table.Spec{Name: name, Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
		require.NoError(t, err)
	}
	src, err := e.streams.Open(ctx, "clicks")
	require.NoError(t, err)
	features, err := e.tables.Open(ctx, "features")
	require.NoError(t, err)
	products, err := e.tables.Open(ctx, "products")
	require.NoError(t, err)
	setPrice := func(p string, price int64) {
		t.Helper()
		_, err := products.Put(ctx, item.Item{"product_id": item.StringValue(p), "base_price": item.IntValue(price)}, table.WriteOptions{})
		require.NoError(t, err)
	}
	for p := range 8 {
		setPrice(fmt.Sprintf("p%d", p), 10)
	}
	event := func(n int, p string) string {
		return fmt.Sprintf(`{"n":%d,"product_id":%q,"event_time":"2019-10-01T00:%02d:%02dZ"}`, n, p, n/60, n%60)
	}
	// Before the start time: never read.
	for n := range 20 {
		put(t, src, event(n, fmt.Sprintf("p%d", n%8)))
	}
	startTime := time.Now() // after every arrival above: put returns once they are stored

	m, _ := e.startManager(t)
	spec, err := Decode([]byte(fmt.Sprintf(`
name: ordered
source:
  stream: clicks
  start: at_timestamp
  start_time: %s
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: n, type: long}
    - {name: product_id, type: string}
    - {name: event_time, type: timestamp}
joins:
  - table: products
    on: product_id
    fields: [{name: base_price, type: long}]
window:
  key: [product_id]
  size: 1h
  aggregates:
    - {name: count, count: true}
    - {name: last_n, last: n}
    - {name: max_n, max: n}
    - {name: base_price, last: base_price}
parallelism: 2
sink: {table: features}
dead_letter: dlq
`, startTime.UTC().Format(time.RFC3339Nano))))
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	spec2, err := Decode([]byte(`
name: copy
source:
  stream: clicks
  start: trim_horizon
  schema:
    - {name: n, type: long}
    - {name: product_id, type: string}
transforms:
  - filter: 'n % 2 == 0'
sink: {stream: copies, partition_key: product_id}
dead_letter: dlq2
`))
	require.NoError(t, err)
	_, err = e.streams.Create(ctx, stream.Spec{Name: "copies", Partitions: 1})
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec2)
	require.NoError(t, err)

	// After the start time, in per-product order.
	const n = 400
	for i := 20; i < n; i += 50 {
		var evs []string
		for j := i; j < min(n, i+50); j++ {
			evs = append(evs, event(j, fmt.Sprintf("p%d", j%8)))
		}
		put(t, src, evs...)
	}
	waitFor(t, 20*time.Second, func() error {
		st, err := m.Status(ctx, "ordered")
		if err != nil {
			return err
		}
		if st.RecordsIn != n-20 || st.RecordsIn != st.RecordsProcessed+st.Filtered+st.DeadLettered {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	for p := range 8 {
		pid := fmt.Sprintf("p%d", p)
		waitFor(t, 10*time.Second, func() error {
			it, err := features.Get(ctx, item.Key{Partition: item.StringValue(pid)}, table.GetOptions{})
			if err != nil || it == nil {
				return fmt.Errorf("%s: %v %v", pid, it, err)
			}
			want := 0
			for i := 20; i < n; i++ {
				if i%8 == p {
					want++
				}
			}
			if c, _ := it["count"].N().Int64(); c != int64(want) {
				return fmt.Errorf("%s: count %v, want %d (nothing before the start time)", pid, it["count"], want)
			}
			if it["last_n"].N().String() != it["max_n"].N().String() {
				return fmt.Errorf("%s: last n %v, highest %v: out of order", pid, it["last_n"], it["max_n"])
			}
			if it["base_price"].N().String() != "10" {
				return fmt.Errorf("%s: base_price %v", pid, it["base_price"])
			}
			return nil
		})
	}

	// A price change reaches the join through the change stream.
	setPrice("p3", 12)
	next := n
	waitFor(t, 10*time.Second, func() error {
		put(t, src, event(next, "p3"))
		next++
		it, err := features.Get(ctx, item.Key{Partition: item.StringValue("p3")}, table.GetOptions{})
		if err != nil || it == nil || it["base_price"].N().String() != "12" {
			return fmt.Errorf("p3 row %v %v", it, err)
		}
		return nil
	})

	// The stream sink holds the even records, as JSON, keyed by product.
	copies, err := e.streams.Open(ctx, "copies")
	require.NoError(t, err)
	var got []map[string]any
	waitFor(t, 10*time.Second, func() error {
		res, err := copies.Read(ctx, 0, stream.Position{}, stream.ReadOptions{MaxRecords: 10000})
		if err != nil {
			return err
		}
		got = got[:0]
		for _, r := range res.Records {
			var v map[string]any
			require.NoError(t, json.Unmarshal(r.Data, &v))
			require.Equal(t, v["product_id"], r.PartitionKey)
			got = append(got, v)
		}
		if len(got) != (next+1)/2 {
			return fmt.Errorf("%d copies of %d", len(got), (next+1)/2)
		}
		return nil
	})
	for _, v := range got {
		require.Zero(t, int(v["n"].(float64))%2)
	}
}

// TestETLRunEmitInterval: with emit: interval a running job emits at most
// a row per key per interval, and the rows held back are flushed by the
// worker's clock even when no further record comes. (A stream sink keeps
// every row emitted, where a table sink would coalesce them.)
func TestETLRunEmitInterval(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	for _, name := range []string{"clicks", "rows"} {
		_, err := e.streams.Create(ctx, stream.Spec{Name: name, Partitions: 1})
		require.NoError(t, err)
	}
	src, err := e.streams.Open(ctx, "clicks")
	require.NoError(t, err)
	rows, err := e.streams.Open(ctx, "rows")
	require.NoError(t, err)
	m, _ := e.startManager(t)
	doc := strings.Replace(countJob, "  allowed_lateness: 1s\n", "  allowed_lateness: 1s\n  emit: interval\n  interval: 300ms\n", 1)
	doc = strings.Replace(doc, "sink: {table: features}", "sink: {stream: rows, partition_key: product_id}", 1)
	spec, err := Decode([]byte(doc))
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	var evs []string
	for i := range 20 {
		evs = append(evs, clickAt(i, "view", "p1", 1))
	}
	put(t, src, evs...)
	var views []float64
	waitFor(t, 10*time.Second, func() error {
		res, err := rows.Read(ctx, 0, stream.Position{}, stream.ReadOptions{})
		if err != nil {
			return err
		}
		views = views[:0]
		for _, r := range res.Records {
			var row struct{ Views float64 }
			require.NoError(t, json.Unmarshal(r.Data, &row))
			views = append(views, row.Views)
		}
		if len(views) == 0 || views[len(views)-1] != 20 {
			return fmt.Errorf("rows %v", views)
		}
		return nil
	})
	require.Less(t, len(views), 5, "rows %v: at most one per 300 ms, not one per event", views)
	require.Equal(t, float64(1), views[0], "the first row goes at once")
}

// TestETLRunStartLatest: a job that starts at latest reads only records
// that arrive after it starts, none of those already stored.
func TestETLRunStartLatest(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	_, err := e.streams.Create(ctx, stream.Spec{Name: "clicks", Partitions: 2})
	require.NoError(t, err)
	_, err = e.tables.Create(ctx, table.Spec{Name: "features", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	require.NoError(t, err)
	src, err := e.streams.Open(ctx, "clicks")
	require.NoError(t, err)
	// Stored before the job starts: bots, which the job would count as
	// filtered.
	for i := range 10 {
		put(t, src, clickAt(i, "bot", fmt.Sprintf("p%d", i%4), 1))
	}
	m, _ := e.startManager(t)
	spec, err := Decode([]byte(strings.Replace(countJob, "  start: trim_horizon\n", "", 1)))
	require.NoError(t, err)
	require.Empty(t, spec.Source.Start, "latest is the default")
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	// Records sent until the job has read some (its readers resolve latest
	// when they start, so the first ones may precede them).
	sent := 0
	waitFor(t, 10*time.Second, func() error {
		put(t, src, clickAt(20+sent, "view", "p1", 1))
		sent++
		st, err := m.Status(ctx, "counts")
		if err != nil || st.RecordsIn == 0 {
			return fmt.Errorf("nothing read yet: %+v %v", st, err)
		}
		return nil
	})
	st, err := m.Status(ctx, "counts")
	require.NoError(t, err)
	require.Zero(t, st.Filtered, "none of the stored bots was read")
	require.LessOrEqual(t, st.RecordsIn, uint64(sent))
}
