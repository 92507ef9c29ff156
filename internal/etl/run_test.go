package etl

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

type testEnv struct {
	eng     *engine.Engine
	streams *stream.Manager
	tables  *table.Manager
}

func newTestEnv(t testing.TB, eng *engine.Engine) *testEnv {
	t.Helper()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: eng})
	require.NoError(t, err)
	t.Cleanup(func() { sm.Close() })
	tm, err := table.New(table.Config{}, table.Deps{Engine: eng})
	require.NoError(t, err)
	t.Cleanup(func() { tm.Close() })
	return &testEnv{eng: eng, streams: sm, tables: tm}
}

// clicksAndFeatures creates the stream clicks (with the given partitions)
// and the table features keyed by product_id, and opens both.
func (e *testEnv) clicksAndFeatures(t testing.TB, partitions int) (*stream.Stream, *table.Table) {
	t.Helper()
	ctx := context.Background()
	_, err := e.streams.Create(ctx, stream.Spec{Name: "clicks", Partitions: partitions})
	require.NoError(t, err)
	_, err = e.tables.Create(ctx, table.Spec{Name: "features", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	require.NoError(t, err)
	src, err := e.streams.Open(ctx, "clicks")
	require.NoError(t, err)
	features, err := e.tables.Open(ctx, "features")
	require.NoError(t, err)
	return src, features
}

// startManager runs a manager until the returned stop is called.
func (e *testEnv) startManager(t testing.TB) (*Manager, func()) {
	t.Helper()
	return e.startManagerWith(t, prometheus.NewRegistry(), nil)
}

// startManagerWith runs a manager registering its metrics with reg and
// logging to logger (nil: nowhere) until the returned stop is called (or
// the test ends).
func (e *testEnv) startManagerWith(t testing.TB, reg prometheus.Registerer, logger *slog.Logger) (*Manager, func()) {
	t.Helper()
	m, err := New(Config{CheckpointInterval: 50 * time.Millisecond}, Deps{Engine: e.eng, Streams: e.streams, Tables: e.tables, Registerer: reg, Logger: logger})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	return m, stop
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

const countJob = `
name: counts
source:
  stream: clicks
  start: trim_horizon
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: event_time, type: timestamp}
    - {name: event_type, type: string}
    - {name: product_id, type: string}
    - {name: price, type: double}
transforms:
  - filter: 'event_type != "bot"'
window:
  key: [product_id]
  allowed_lateness: 1s
  aggregates:
    - {name: views, count_if: 'event_type == "view"'}
    - {name: revenue, sum: 'event_type == "purchase" ? price : 0'}
sink: {table: features}
dead_letter: clicks_dlq
`

func put(t *testing.T, s *stream.Stream, events ...string) {
	t.Helper()
	var es []stream.Entry
	for _, ev := range events {
		var v struct {
			ProductID string `json:"product_id"`
		}
		if json.Unmarshal([]byte(ev), &v) != nil || v.ProductID == "" {
			v.ProductID = "none"
		}
		es = append(es, stream.Entry{PartitionKey: v.ProductID, Data: []byte(ev)})
	}
	res, err := s.Append(context.Background(), es)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
}

func clickAt(sec int, typ, product string, price float64) string {
	return fmt.Sprintf(`{"event_time":"2019-10-01T00:%02d:%02dZ","event_type":%q,"product_id":%q,"price":%g}`, sec/60, sec%60, typ, product, price)
}

func TestETLRunStreamToTable(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	src, features := e.clicksAndFeatures(t, 2)

	m, stop := e.startManager(t)
	spec, err := Decode([]byte(countJob))
	require.NoError(t, err)
	res, err := m.Apply(ctx, spec)
	require.NoError(t, err)
	require.True(t, res.Created)

	// Per product (one partition key per product, so one partition).
	put(t, src,
		clickAt(1, "view", "p1", 10), clickAt(2, "view", "p1", 10), clickAt(3, "purchase", "p1", 10),
		clickAt(4, "bot", "p1", 10), `not json`, clickAt(5, "view", "p2", 5))
	status := func(want uint64) *Status {
		var st *Status
		waitFor(t, 10*time.Second, func() error {
			var err error
			if st, err = m.Status(ctx, "counts"); err != nil {
				return err
			}
			if st.RecordsIn != want {
				return fmt.Errorf("records_in %d, want %d (state %s %s)", st.RecordsIn, want, st.State, st.Error)
			}
			return nil
		})
		require.Equal(t, st.RecordsIn, st.RecordsProcessed+st.Filtered+st.DeadLettered, "every input accounted for")
		return st
	}
	st := status(6)
	require.Equal(t, []string{"counts"}, m.Running(), "the job runs here")
	require.EqualValues(t, 1, st.Filtered)
	require.EqualValues(t, 1, st.DeadLettered)
	get := func(p string) item.Item {
		var it item.Item
		waitFor(t, 10*time.Second, func() error {
			var err error
			if it, err = features.Get(ctx, item.Key{Partition: item.StringValue(p)}, table.GetOptions{}); err != nil {
				return err
			}
			if it == nil {
				return fmt.Errorf("no row for %s", p)
			}
			return nil
		})
		return it
	}
	waitFor(t, 10*time.Second, func() error {
		if it := get("p1"); it["views"].N().String() != "2" || it["revenue"].N().String() != "10" {
			return fmt.Errorf("p1 row %v", it)
		}
		return nil
	})

	// A stop checkpoints; a new manager resumes where it stopped, with the
	// window state: the same window keeps counting.
	stop()
	m, _ = e.startManager(t)
	put(t, src, clickAt(20, "view", "p1", 10), clickAt(200, "view", "p9", 1), clickAt(1, "view", "p1", 10))
	st = status(9)
	require.EqualValues(t, 1, st.Late, "00:00:01 after the watermark passed 00:01:40")
	require.EqualValues(t, 2, st.DeadLettered)
	waitFor(t, 10*time.Second, func() error {
		if it := get("p1"); it["views"].N().String() != "3" || it["final"].BOOL() != true {
			return fmt.Errorf("p1 row %v", it)
		}
		return nil
	})
	// The dead-letter writer appends after the records are counted: wait
	// for both.
	var dls []DeadLetter
	waitFor(t, 10*time.Second, func() error {
		var err error
		if dls, err = m.DeadLetters(ctx, "counts", 10); err == nil && len(dls) != 2 {
			err = fmt.Errorf("%d dead letters, want 2", len(dls))
		}
		return err
	})
	require.Equal(t, "decode", dls[0].Reason)
	require.Equal(t, "not json", string(dls[0].Data))
	require.Equal(t, "late", dls[1].Reason)
	require.NotEmpty(t, dls[1].Position)

	// Replay sends them through again (once).
	n, err := m.ReplayDeadLetters(ctx, "counts", 100)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	status(11)
	// They failed again (nothing was fixed): two new dead letters, and only
	// those are replayed next time. (The dead-letter writer appends them
	// after the records are counted: wait for them.)
	waitFor(t, 10*time.Second, func() error {
		dls, err := m.DeadLetters(ctx, "counts", 10)
		if err == nil && len(dls) != 4 {
			err = fmt.Errorf("%d dead letters, want 4", len(dls))
		}
		return err
	})
	n, err = m.ReplayDeadLetters(ctx, "counts", 100)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	status(13)

	// Stop through the definition; a change through Apply takes effect.
	require.NoError(t, m.Stop(ctx, "counts"))
	waitFor(t, 10*time.Second, func() error {
		st, err := m.Status(ctx, "counts")
		if err != nil || st.State != StateStopped {
			return fmt.Errorf("state %v %v", st, err)
		}
		return nil
	})
	require.NoError(t, m.Delete(ctx, "counts"))
	_, err = m.Status(ctx, "counts")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestETLApplyReportsEveryError(t *testing.T) {
	spec, err := Decode([]byte(`
kind: trigger
name: bad job
source: {stream: clicks, schema: [{name: price, type: double}], start: sometime}
transforms:
  - filter: 'price > 1'
  - filter: 'prise > 1'
  - {filter: 'price > 1', drop_fields: [price]}
window:
  key: [product_id]
  aggregates: [{name: n, sum: 'price > 1'}]
sink: {}
`))
	require.NoError(t, err)
	_, err = Compile(context.Background(), spec, nil)
	require.ErrorIs(t, err, ErrInvalid)
	for _, want := range []string{
		`kind: "trigger": a job document's kind is job`,
		`name: "bad job"`,
		`source.start: "sometime"`,
		`transforms[1].filter: unknown field "prise"`,
		`transforms[2]: one transform per list item, got drop_fields and filter`,
		`window.key[0]: unknown field "product_id"`,
		`sink: name a table or a stream`,
		`dead_letter: name the stream`,
	} {
		require.ErrorContains(t, err, want)
	}
	_, err = Decode([]byte("name: x\nsource: {stream: s}\nsinkk: {}\n"))
	require.ErrorContains(t, err, `unknown field "sinkk"`)

	// A file of definitions: the jobs are read, other kinds skipped.
	specs, err := DecodeAll([]byte("kind: stream\nname: s\npartitions: 2\n---\nkind: job\nname: j\n---\nname: k\n"))
	require.NoError(t, err)
	require.Len(t, specs, 2)
	require.Equal(t, "j", specs[0].Name)
	require.Equal(t, "k", specs[1].Name)
	require.NotContains(t, string(specs[0].JSON()), "kind", "the kind is not stored")
}

// TestETLRunApplyChange: a changed job restarts from its checkpoints: no
// record is read twice; the window state is kept when only the output
// changed, and dropped (positions kept) when what the windows depend on
// changed. (The job is stopped around each apply so that every record is
// read by a known definition; a running job restarts the same way.)
func TestETLRunApplyChange(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	src, features := e.clicksAndFeatures(t, 1)
	m, _ := e.startManager(t)
	state := func(want string) {
		t.Helper()
		waitFor(t, 10*time.Second, func() error {
			st, err := m.Status(ctx, "counts")
			if err != nil || st.State != want {
				return fmt.Errorf("state %+v %v, want %s", st, err, want)
			}
			return nil
		})
	}
	apply := func(tag, doc string) {
		t.Helper()
		if _, err := m.Get(ctx, "counts"); err == nil {
			require.NoError(t, m.Stop(ctx, "counts"))
			state(StateStopped)
		}
		spec, err := Decode([]byte(doc + "output:\n  - map: [{field: tag, expr: '\"" + tag + "\"'}]\n"))
		require.NoError(t, err)
		res, err := m.Apply(ctx, spec)
		require.NoError(t, err)
		require.True(t, res.Changed)
		require.NoError(t, m.Start(ctx, "counts"))
		state(StateRunning)
	}
	sent := 0
	view := func(tag string, views int) {
		t.Helper()
		sent++
		put(t, src, clickAt(sent, "view", "p1", 1))
		waitFor(t, 10*time.Second, func() error {
			st, err := m.Status(ctx, "counts")
			if err != nil || st.RecordsIn != uint64(sent) {
				return fmt.Errorf("records_in %+v %v, want %d", st, err, sent)
			}
			it, err := features.Get(ctx, item.Key{Partition: item.StringValue("p1")}, table.GetOptions{})
			if err != nil || it == nil || it["tag"].S() != tag || it["views"].N().String() != fmt.Sprint(views) {
				return fmt.Errorf("row %v %v, want tag %s views %d", it, err, tag, views)
			}
			return nil
		})
	}
	apply("v1", countJob)
	view("v1", 1)
	view("v1", 2)
	// Only the output changed: the window goes on counting.
	apply("v2", countJob)
	view("v2", 3)
	// The transforms changed: the windows start afresh, from where the job
	// was (records_in goes on: no record read twice).
	apply("v3", strings.Replace(countJob, `filter: 'event_type != "bot"'`, `filter: 'event_type != "robot"'`, 1))
	view("v3", 1)
	view("v3", 2)
}

// A job reading a table's change stream dead-letters a change with the
// item's new image as its data, in attribute-value JSON.
func TestETLRunTableSourceDeadLetter(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	for _, name := range []string{"orders", "out"} {
		_, err := e.tables.Create(ctx, table.Spec{Name: name, Key: item.KeySchema{Partition: item.KeyAttribute{Name: "order_id", Type: item.S}}})
		require.NoError(t, err)
	}
	_, err := e.streams.Create(ctx, stream.Spec{Name: "orders_dlq", Partitions: 1})
	require.NoError(t, err)
	orders, err := e.tables.Open(ctx, "orders")
	require.NoError(t, err)
	m, _ := e.startManager(t)
	spec, err := Decode([]byte(`
name: checked
source:
  table: orders
  start: trim_horizon
  schema:
    - {name: order_id, type: string}
    - {name: quantity, type: long}
transforms:
  - assert: {expr: 'quantity > 0', reason: bad_quantity}
sink: {table: out}
dead_letter: orders_dlq
`))
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	bad := item.Item{"order_id": item.StringValue("o2"), "quantity": item.IntValue(-1), "note": item.StringValue("<gift> & card")}
	for _, it := range []item.Item{{"order_id": item.StringValue("o1"), "quantity": item.IntValue(2)}, bad} {
		_, err := orders.Put(ctx, it, table.WriteOptions{})
		require.NoError(t, err)
	}
	var dls []DeadLetter
	waitFor(t, 10*time.Second, func() error {
		var err error
		if dls, err = m.DeadLetters(ctx, "checked", 10); err != nil {
			return err
		}
		if len(dls) != 1 {
			return fmt.Errorf("%d dead letters", len(dls))
		}
		return nil
	})
	require.Equal(t, "bad_quantity", dls[0].Reason)
	var got item.Item
	require.NoError(t, got.UnmarshalJSON(dls[0].Data), "data %s", dls[0].Data)
	require.True(t, bad.Equal(got), "dead-lettered %s", dls[0].Data)
}
