package table_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

func newManager(t testing.TB, e *engine.Engine) *table.Manager {
	t.Helper()
	m, err := table.New(table.Config{}, table.Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

var (
	hashKey = item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	sortKey = item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}, Sort: item.KeyAttribute{Name: "sk", Type: item.N}}
)

func createTable(t testing.TB, m *table.Manager, name string, ks item.KeySchema, view table.ViewType) *table.Table {
	t.Helper()
	ctx := context.Background()
	_, err := m.Create(ctx, table.Spec{Name: name, Key: ks, StreamView: view})
	require.NoError(t, err)
	tb, err := m.Open(ctx, name)
	require.NoError(t, err)
	return tb
}

func it(t testing.TB, js string) item.Item {
	t.Helper()
	i, err := item.ParseJSON([]byte(js), "")
	require.NoError(t, err)
	return i
}

func key(t testing.TB, tb *table.Table, js string) item.Key {
	t.Helper()
	k, err := tb.ParseKey(it(t, js))
	require.NoError(t, err)
	return k
}

func plain(i item.Item) string {
	if i == nil {
		return "null"
	}
	return string(i.AppendPlainJSON(nil))
}

func values(t testing.TB, js string) map[string]item.Value {
	t.Helper()
	i := it(t, js)
	out := map[string]item.Value{}
	for k, v := range i {
		out[":"+k] = v
	}
	return out
}

func update(t testing.TB, src, vals string) *expr.Update {
	t.Helper()
	var v map[string]item.Value
	if vals != "" {
		v = values(t, vals)
	}
	u, err := expr.CompileUpdate(src, nil, v)
	require.NoError(t, err)
	return u
}

func keyCond(t testing.TB, src, vals string) *expr.KeyCondition {
	t.Helper()
	k, err := expr.CompileKeyCondition(src, sortKey, nil, values(t, vals))
	require.NoError(t, err)
	return k
}

func cond(t testing.TB, src, vals string) *expr.Condition {
	t.Helper()
	var v map[string]item.Value
	if vals != "" {
		v = values(t, vals)
	}
	c, err := expr.CompileCondition(src, nil, v)
	require.NoError(t, err)
	return c
}

// TestTableSuite runs against the embedded engine and, when
// PRICESTREAM_NATS_URL is set, against that NATS server.
func TestTableSuite(t *testing.T) {
	enginetest.Each(t, func(t *testing.T, e *engine.Engine) {
		t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, e) })
		t.Run("Items", func(t *testing.T) { testItems(t, e) })
		t.Run("QueryScan", func(t *testing.T) { testQueryScan(t, e) })
		t.Run("CounterContention", func(t *testing.T) { testCounterContention(t, e) })
		t.Run("ConditionalRace", func(t *testing.T) { testConditionalRace(t, e) })
		t.Run("Changes", func(t *testing.T) { testChanges(t, e) })
		t.Run("Transactions", func(t *testing.T) { testTransactions(t, e) })
		t.Run("TransactionContention", func(t *testing.T) { testTransactionContention(t, e) })
	})
}

func testLifecycle(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	info, err := m.Create(ctx, table.Spec{Name: "products.v1", Key: hashKey, StreamView: table.ViewNewAndOldImgs})
	require.NoError(t, err)
	require.Equal(t, "products.v1", info.Name)
	require.Equal(t, table.DefaultRetention, info.ChangeRetention)
	require.Equal(t, table.HistoryAll, info.ChangeHistory)
	require.NotEmpty(t, info.ID)
	_, err = m.Create(ctx, table.Spec{Name: "products.v1", Key: hashKey})
	require.ErrorIs(t, err, table.ErrExists)
	_, err = m.Create(ctx, table.Spec{Name: "orders", Key: sortKey, ChangeRetention: time.Hour})
	require.NoError(t, err)
	_, err = m.Create(ctx, table.Spec{Name: "x", Key: item.KeySchema{}, StreamView: "SOME", ChangeHistory: "some"})
	require.ErrorIs(t, err, table.ErrInvalidArgument)
	require.ErrorContains(t, err, "table name")
	require.ErrorContains(t, err, "stream view type")
	require.ErrorContains(t, err, `change history "some": want all or latest`)

	list, err := m.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "orders", list[0].Name)
	require.Equal(t, sortKey, list[0].Key)
	require.Equal(t, time.Hour, list[0].ChangeRetention)

	tb, err := m.Open(ctx, "products.v1")
	require.NoError(t, err)
	_, err = tb.Put(ctx, it(t, `{"pk":"a","price":129.99}`), table.WriteOptions{})
	require.NoError(t, err)
	d, err := m.Describe(ctx, "products.v1")
	require.NoError(t, err)
	require.Equal(t, int64(1), d.Items)
	require.Equal(t, uint64(1), d.Messages)

	require.NoError(t, m.Delete(ctx, "products.v1"))
	_, err = m.Describe(ctx, "products.v1")
	require.ErrorIs(t, err, table.ErrNotFound)
	// A handle opened before says so when written through, without asking
	// the engine (which has no stream to answer for it, or an index that
	// stopped to wait for).
	_, err = tb.Put(ctx, it(t, `{"pk":"b"}`), table.WriteOptions{})
	require.ErrorIs(t, err, table.ErrNotFound)
	require.ErrorContains(t, err, `table "products.v1" was deleted`)
	bin, err := it(t, `{"pk":"c"}`).AppendBinary(nil)
	require.NoError(t, err)
	async := make(chan error, 1)
	tb.PutEncodedAsync(bin, func(_ uint64, err error) { async <- err })
	err = <-async
	require.ErrorIs(t, err, table.ErrNotFound)
	require.ErrorContains(t, err, `table "products.v1" was deleted`)
	require.ErrorIs(t, m.Delete(ctx, "products.v1"), table.ErrNotFound)
	_, err = m.Open(ctx, "nope")
	require.ErrorIs(t, err, table.ErrNotFound)

	// A table created again under the same name starts empty.
	_, err = m.Create(ctx, table.Spec{Name: "products.v1", Key: hashKey})
	require.NoError(t, err)
	tb, err = m.Open(ctx, "products.v1")
	require.NoError(t, err)
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"a"}`), table.GetOptions{})
	require.NoError(t, err)
	require.Nil(t, got)
}

func testItems(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	tb := createTable(t, m, "items", hashKey, table.ViewNewAndOldImgs)
	k := key(t, tb, `{"pk":"p1"}`)

	res, err := tb.Put(ctx, it(t, `{"pk":"p1","price":129.99,"tags":["a"]}`), table.WriteOptions{})
	require.NoError(t, err)
	require.True(t, res.Written)
	require.Nil(t, res.Old())

	for _, consistent := range []bool{false, true} {
		got, err := tb.Get(ctx, k, table.GetOptions{Consistent: consistent})
		require.NoError(t, err)
		require.Equal(t, `{"pk":"p1","price":129.99,"tags":["a"]}`, plain(got), "read your writes, exact decimals")
	}

	// A conditional put that fails writes nothing and carries the item.
	_, err = tb.Put(ctx, it(t, `{"pk":"p1"}`), table.WriteOptions{Condition: cond(t, "attribute_not_exists(pk)", "")})
	require.ErrorIs(t, err, table.ErrConditionFailed)
	var ce *table.ConditionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, `{"pk":"p1","price":129.99,"tags":["a"]}`, plain(ce.Item))

	// Update: SET with arithmetic, ADD, list_append; return values.
	u := update(t, "SET price = price - :d, tags = list_append(tags, :t) ADD n :one", `{"d":0.99,"t":["b"],"one":1}`)
	res, err = tb.Update(ctx, k, u, table.WriteOptions{Condition: cond(t, "price > :min", `{"min":100}`)})
	require.NoError(t, err)
	require.Equal(t, `{"n":1,"pk":"p1","price":129,"tags":["a","b"]}`, plain(res.New))
	require.Equal(t, `{"n":1,"price":129,"tags":["a","b"]}`, plain(res.Returned(table.ReturnUpdatedNew, u)))
	require.Equal(t, `{"price":129.99,"tags":["a"]}`, plain(res.Returned(table.ReturnUpdatedOld, u)))
	require.Equal(t, `{"pk":"p1","price":129.99,"tags":["a"]}`, plain(res.Returned(table.ReturnAllOld, u)))

	// An update of a missing item creates it from its key.
	res, err = tb.Update(ctx, key(t, tb, `{"pk":"p2"}`), update(t, "SET qty = :q", `{"q":5}`), table.WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"pk":"p2","qty":5}`, plain(res.New))

	// An update of a key attribute is refused before anything is read.
	_, err = tb.Update(ctx, k, update(t, "SET pk = :x", `{"x":"y"}`), table.WriteOptions{})
	var ve *expr.ValidationError
	require.ErrorAs(t, err, &ve)

	// A write that changes nothing stores nothing.
	res, err = tb.Update(ctx, k, update(t, "SET price = :p", `{"p":129}`), table.WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Written)
	// An unconditional put does not decode the item it replaces: it
	// compares binary forms, which are equal for equal items however they
	// were written (numbers by value, sets as sets).
	withSet := func(js string, members ...string) item.Item {
		i := it(t, js)
		ss, err := item.StringSetValue(members...)
		require.NoError(t, err)
		i["ss"] = ss
		return i
	}
	res, err = tb.Put(ctx, withSet(`{"pk":"s1","n":1.50,"m":{"y":1,"x":[1,"a"]}}`, "b", "a"), table.WriteOptions{})
	require.NoError(t, err)
	require.True(t, res.Written)
	require.Nil(t, res.Old())
	res, err = tb.Put(ctx, withSet(`{"m":{"x":[1,"a"],"y":1.0},"n":1.5,"pk":"s1"}`, "a", "b"), table.WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Written, "an equal item stores nothing")
	require.Equal(t, `{"m":{"x":[1,"a"],"y":1},"n":1.5,"pk":"s1","ss":["a","b"]}`, plain(res.Old()))
	res, err = tb.Put(ctx, withSet(`{"pk":"s1","n":1.51,"m":{"x":[1,"a"],"y":1}}`, "a", "b"), table.WriteOptions{})
	require.NoError(t, err)
	require.True(t, res.Written, "one number differs")
	require.Equal(t, `{"m":{"x":[1,"a"],"y":1},"n":1.5,"pk":"s1","ss":["a","b"]}`, plain(res.Old()))
	require.Equal(t, `{"m":{"x":[1,"a"],"y":1},"n":1.5,"pk":"s1","ss":["a","b"]}`, plain(res.Returned(table.ReturnAllOld, nil)))
	require.Equal(t, `{"m":{"x":[1,"a"],"y":1},"n":1.51,"pk":"s1","ss":["a","b"]}`, plain(res.Returned(table.ReturnAllNew, nil)))

	// Bad items: wrong key type, missing key, oversized.
	_, err = tb.Put(ctx, it(t, `{"pk":1}`), table.WriteOptions{})
	require.ErrorContains(t, err, "Type mismatch for key pk expected: S actual: N")
	_, err = tb.Put(ctx, it(t, `{"x":1}`), table.WriteOptions{})
	require.ErrorContains(t, err, "Missing the key pk")
	big := item.Item{"pk": item.StringValue("big"), "blob": item.StringValue(string(make([]byte, item.MaxSize)))}
	_, err = tb.Put(ctx, big, table.WriteOptions{})
	var ive *item.ValidationError
	require.ErrorAs(t, err, &ive)
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"big"}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Nil(t, got, "nothing written")
	// The largest item DynamoDB allows is stored.
	big["blob"] = item.StringValue(string(make([]byte, item.MaxSize-20)))
	_, err = tb.Put(ctx, big, table.WriteOptions{})
	require.NoError(t, err)

	// Delete with a condition, then unconditionally; a missing item is no error.
	_, err = tb.Delete(ctx, k, table.WriteOptions{Condition: cond(t, "n > :n", `{"n":5}`)})
	require.ErrorIs(t, err, table.ErrConditionFailed)
	res, err = tb.Delete(ctx, k, table.WriteOptions{})
	require.NoError(t, err)
	require.True(t, res.Written)
	res, err = tb.Delete(ctx, k, table.WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Written)
	got, err = tb.Get(ctx, k, table.GetOptions{})
	require.NoError(t, err)
	require.Nil(t, got)
	// And it can be created again after its tombstone.
	_, err = tb.Put(ctx, it(t, `{"pk":"p1","v":2}`), table.WriteOptions{Condition: cond(t, "attribute_not_exists(pk)", "")})
	require.NoError(t, err)

	// Batches.
	items, err := tb.BatchGet(ctx, []item.Key{k, key(t, tb, `{"pk":"p2"}`), key(t, tb, `{"pk":"none"}`)}, table.GetOptions{})
	require.NoError(t, err)
	require.Len(t, items, 2)
	n, err := tb.BatchWrite(ctx, []table.WriteRequest{{Put: it(t, `{"pk":"b1"}`)}, {Put: it(t, `{"pk":"b2"}`)}, {Delete: key(t, tb, `{"pk":"p2"}`)}})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	_, err = tb.BatchWrite(ctx, []table.WriteRequest{{Put: it(t, `{"pk":"b1"}`)}, {Delete: key(t, tb, `{"pk":"b1"}`)}})
	require.ErrorContains(t, err, "duplicates")
	d, err := m.Describe(ctx, "items")
	require.NoError(t, err)
	require.Equal(t, int64(5), d.Items) // p1, s1, big, b1, b2
}

func testQueryScan(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	tb := createTable(t, m, "orders-q", sortKey, table.ViewNone)
	for _, pk := range []string{"a", "b"} {
		for i := range 10 {
			_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":%q,"sk":%d,"odd":%t}`, pk, i*10-30, i%2 == 1)), table.WriteOptions{})
			require.NoError(t, err)
		}
	}
	kc := func(src, vals string) *expr.KeyCondition { return keyCond(t, src, vals) }
	sks := func(p *table.Page) []string {
		var out []string
		for _, i := range p.Items {
			out = append(out, i["sk"].N().String())
		}
		return out
	}
	p, err := tb.Query(ctx, table.QueryInput{KeyCondition: kc("pk = :p AND sk BETWEEN :lo AND :hi", `{"p":"a","lo":-10,"hi":20}`)})
	require.NoError(t, err)
	require.Equal(t, []string{"-10", "0", "10", "20"}, sks(p), "numbers in numeric order")
	require.Nil(t, p.LastEvaluatedKey)

	// Pages of 3, backward, with a filter that counts as scanned.
	var all []string
	var start *item.Key
	pages := 0
	for {
		p, err := tb.Query(ctx, table.QueryInput{KeyCondition: kc("pk = :p", `{"p":"b"}`), Backward: true, Limit: 3, ExclusiveStartKey: start,
			Filter: cond(t, "odd = :t", `{"t":true}`), Consistent: true})
		require.NoError(t, err)
		pages++
		all = append(all, sks(p)...)
		if p.LastEvaluatedKey == nil {
			break
		}
		require.Equal(t, 3, p.ScannedCount)
		start = p.LastEvaluatedKey
	}
	require.Equal(t, []string{"60", "40", "20", "0", "-20"}, all)
	require.Equal(t, 4, pages)

	proj, err := expr.CompileProjection("sk", nil)
	require.NoError(t, err)
	p, err = tb.Query(ctx, table.QueryInput{KeyCondition: kc("pk = :p AND sk < :v", `{"p":"a","v":-10}`), Projection: proj})
	require.NoError(t, err)
	require.Equal(t, `{"sk":-30}`, plain(p.Items[0]))
	require.Len(t, p.Items, 2)

	s, err := tb.Scan(ctx, table.ScanInput{})
	require.NoError(t, err)
	require.Len(t, s.Items, 20)
	seen := 0
	for seg := range 3 {
		s, err := tb.Scan(ctx, table.ScanInput{Segment: seg, TotalSegments: 3})
		require.NoError(t, err)
		seen += len(s.Items)
	}
	require.Equal(t, 20, seen, "segments split the table")
	_, err = tb.Scan(ctx, table.ScanInput{Segment: 3, TotalSegments: 3})
	require.ErrorIs(t, err, table.ErrInvalidArgument)
}

func testCounterContention(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	tb := createTable(t, m, "counters", hashKey, table.ViewNone)
	k := key(t, tb, `{"pk":"c"}`)
	u := update(t, "ADD n :one", `{"one":1}`)
	const writers, each = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := tb.Update(ctx, k, u, table.WriteOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := tb.Get(ctx, k, table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, `{"n":8000,"pk":"c"}`, plain(got))
}

func testConditionalRace(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	tb := createTable(t, m, "race", hashKey, table.ViewNone)
	k := key(t, tb, `{"pk":"r"}`)
	_, err := tb.Put(ctx, it(t, `{"pk":"r","v":0}`), table.WriteOptions{})
	require.NoError(t, err)
	for round := range 200 {
		c := cond(t, "v = :v", fmt.Sprintf(`{"v":%d}`, round))
		var wins, fails atomic.Int32
		var wg sync.WaitGroup
		for w := range 2 {
			u := update(t, "SET v = :n, w = :w", fmt.Sprintf(`{"n":%d,"w":%d}`, round+1, w))
			wg.Go(func() {
				_, err := tb.Update(ctx, k, u, table.WriteOptions{Condition: c})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, table.ErrConditionFailed):
					fails.Add(1)
				default:
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d: exactly one wins", round)
		require.Equal(t, int32(1), fails.Load(), "round %d", round)
	}
}

func testChanges(t *testing.T, e *engine.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := newManager(t, e)
	tb := createTable(t, m, "changes", hashKey, table.ViewNewAndOldImgs)
	live, err := tb.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	defer live.Stop()

	k := key(t, tb, `{"pk":"a"}`)
	_, err = tb.Put(ctx, it(t, `{"pk":"a","v":1}`), table.WriteOptions{})
	require.NoError(t, err)
	_, err = tb.Put(ctx, it(t, `{"pk":"a","v":1}`), table.WriteOptions{}) // no change
	require.NoError(t, err)
	_, err = tb.Update(ctx, k, update(t, "SET v = :v", `{"v":2}`), table.WriteOptions{})
	require.NoError(t, err)
	_, err = tb.Delete(ctx, k, table.WriteOptions{})
	require.NoError(t, err)
	_, err = tb.Delete(ctx, k, table.WriteOptions{}) // no change
	require.NoError(t, err)
	_, err = tb.Put(ctx, it(t, `{"pk":"b"}`), table.WriteOptions{})
	require.NoError(t, err)

	type ev struct{ name, keys, old, new string }
	want := []ev{
		{"INSERT", `{"pk":"a"}`, "null", `{"pk":"a","v":1}`},
		{"MODIFY", `{"pk":"a"}`, `{"pk":"a","v":1}`, `{"pk":"a","v":2}`},
		{"REMOVE", `{"pk":"a"}`, `{"pk":"a","v":2}`, "null"},
		{"INSERT", `{"pk":"b"}`, "null", `{"pk":"b"}`},
	}
	var seqs []uint64
	for i, w := range want {
		c, err := live.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, w, ev{string(c.Event), plain(c.Keys), plain(c.Old), plain(c.New)}, "change %d", i)
		require.WithinDuration(t, time.Now(), c.Time, time.Minute)
		seqs = append(seqs, c.Seq)
	}

	// Polled reads from every kind of position.
	got, next, err := tb.ReadChanges(ctx, 1, 100)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, seqs[3]+1, next)
	// Pages of fewer changes than there are stop at the limit and go on
	// from just after the last change returned.
	for i, from := 0, uint64(1); i < len(seqs); i += 3 {
		got, next, err := tb.ReadChanges(ctx, from, 3)
		require.NoError(t, err)
		require.Len(t, got, min(3, len(seqs)-i))
		for j, c := range got {
			require.Equal(t, seqs[i+j], c.Seq)
		}
		require.Equal(t, got[len(got)-1].Seq+1, next)
		from = next
	}
	from, err := tb.Resolve(ctx, table.Position{Kind: table.AfterSeq, Seq: seqs[1]})
	require.NoError(t, err)
	got, _, err = tb.ReadChanges(ctx, from, 100)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, table.EventRemove, got[0].Event)
	from, err = tb.Resolve(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	got, _, err = tb.ReadChanges(ctx, from, 100)
	require.NoError(t, err)
	require.Empty(t, got)

	// A durable reader resumes after its checkpoint.
	r, err := tb.Reader("etl")
	require.NoError(t, err)
	p, err := r.Start(ctx, table.Position{Kind: table.TrimHorizon})
	require.NoError(t, err)
	require.Equal(t, table.TrimHorizon, p.Kind)
	require.NoError(t, r.Commit(ctx, seqs[2]))
	p, err = r.Start(ctx, table.Position{Kind: table.TrimHorizon})
	require.NoError(t, err)
	require.Equal(t, table.Position{Kind: table.AfterSeq, Seq: seqs[2]}, p)
	sub, err := tb.Subscribe(ctx, p)
	require.NoError(t, err)
	c, err := sub.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, `{"pk":"b"}`, plain(c.Keys))
	sub.Stop()
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, table.ErrClosed)

	// Follow: the items, then the changes after them.
	var loaded []string
	f, err := tb.Follow(ctx, func(i item.Item) error { loaded = append(loaded, plain(i)); return nil })
	require.NoError(t, err)
	defer f.Stop()
	require.Equal(t, []string{`{"pk":"b"}`}, loaded)
	_, err = tb.Put(ctx, it(t, `{"pk":"c"}`), table.WriteOptions{})
	require.NoError(t, err)
	c, err = f.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, `{"pk":"c"}`, plain(c.New))

	// A reader that fell behind gets what was read ahead in one call, in
	// order and at most the limit per call.
	from, err = tb.Resolve(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	behind, err := tb.Subscribe(ctx, table.Position{Kind: table.AfterSeq, Seq: from - 1})
	require.NoError(t, err)
	defer behind.Stop()
	const n = 25
	for i := range n {
		_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"batch-%02d"}`, i)), table.WriteOptions{})
		require.NoError(t, err)
	}
	waitFor(t, 10*time.Second, func() error {
		if b := table.Buffered(behind); b < n {
			return fmt.Errorf("%d changes read ahead, want %d", b, n)
		}
		return nil
	})
	var keys []string
	for len(keys) < n {
		batch, err := behind.NextBatch(ctx, 10)
		require.NoError(t, err)
		require.LessOrEqual(t, len(batch), 10)
		if len(keys) < 20 {
			require.Len(t, batch, 10, "a full batch while 10 or more are read ahead")
		}
		for _, c := range batch {
			keys = append(keys, plain(c.Keys))
		}
	}
	for i, k := range keys {
		require.Equal(t, fmt.Sprintf(`{"pk":"batch-%02d"}`, i), k)
	}
	behind.Stop()
	_, err = behind.NextBatch(ctx, 10)
	require.ErrorIs(t, err, table.ErrClosed)
}

func testTransactions(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	products := createTable(t, m, "products", hashKey, table.ViewNewAndOldImgs)
	orders := createTable(t, m, "orders-t", sortKey, table.ViewNone)
	_, err := products.Put(ctx, it(t, `{"pk":"shoe","stock":2}`), table.WriteOptions{})
	require.NoError(t, err)
	sub, err := products.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	defer sub.Stop()

	order := func(n int) []table.TransactAction {
		return []table.TransactAction{
			{Table: products, Kind: table.TransactUpdate, Key: key(t, products, `{"pk":"shoe"}`),
				Update: update(t, "SET stock = stock - :one", `{"one":1}`), Condition: cond(t, "stock > :zero", `{"zero":0}`), ReturnOldOnConditionFailure: true},
			{Table: orders, Kind: table.TransactPut, Item: it(t, fmt.Sprintf(`{"pk":"shoe","sk":%d}`, n)), Condition: cond(t, "attribute_not_exists(pk)", "")},
		}
	}
	require.NoError(t, m.TransactWrite(ctx, order(1)))
	require.NoError(t, m.TransactWrite(ctx, order(2)))
	err = m.TransactWrite(ctx, order(3))
	var te *table.TransactionError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, table.ErrTransactionCanceled)
	require.Equal(t, table.ReasonConditionFailed, te.Reasons[0].Code)
	require.Equal(t, `{"pk":"shoe","stock":0}`, plain(te.Reasons[0].Item))
	require.Equal(t, table.ReasonNone, te.Reasons[1].Code)

	got, err := orders.Get(ctx, key(t, orders, `{"pk":"shoe","sk":3}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Nil(t, got, "nothing of a canceled transaction is written")
	p, err := orders.Scan(ctx, table.ScanInput{Consistent: true})
	require.NoError(t, err)
	require.Len(t, p.Items, 2)

	// The change stream shows each committed change once, and no markers.
	for _, want := range []string{`{"pk":"shoe","stock":1}`, `{"pk":"shoe","stock":0}`} {
		c, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, table.EventModify, c.Event)
		require.Equal(t, want, plain(c.New))
	}
	_, err = products.Put(ctx, it(t, `{"pk":"marker"}`), table.WriteOptions{})
	require.NoError(t, err)
	c, err := sub.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, `{"pk":"marker"}`, plain(c.New), "nothing between the committed changes and the next write")

	// Two actions on one item are refused.
	err = m.TransactWrite(ctx, []table.TransactAction{
		{Table: products, Kind: table.TransactDelete, Key: key(t, products, `{"pk":"shoe"}`)},
		{Table: products, Kind: table.TransactConditionCheck, Key: key(t, products, `{"pk":"shoe"}`), Condition: cond(t, "attribute_exists(pk)", "")},
	})
	require.ErrorContains(t, err, "multiple operations on one item")
}

// testTransactionContention moves units between two items with concurrent
// transactions and single-item writers; the total never changes.
func testTransactionContention(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e)
	tb := createTable(t, m, "accounts", hashKey, table.ViewNone)
	for _, pk := range []string{"x", "y"} {
		_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":%q,"n":100}`, pk)), table.WriteOptions{})
		require.NoError(t, err)
	}
	kx, ky := key(t, tb, `{"pk":"x"}`), key(t, tb, `{"pk":"y"}`)
	move := []table.TransactAction{
		{Table: tb, Kind: table.TransactUpdate, Key: kx, Update: update(t, "ADD n :m", `{"m":-1}`)},
		{Table: tb, Kind: table.TransactUpdate, Key: ky, Update: update(t, "ADD n :p", `{"p":1}`)},
	}
	var wg sync.WaitGroup
	var committed atomic.Int32
	for range 4 {
		wg.Go(func() {
			for range 25 {
				err := m.TransactWrite(ctx, move)
				if err == nil {
					committed.Add(1)
					continue
				}
				if !errors.Is(err, table.ErrTransactionCanceled) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() { // a single-item writer on the same items
		for range 50 {
			if _, err := tb.Update(ctx, kx, update(t, "SET touched = :t", `{"t":true}`), table.WriteOptions{}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	x, err := tb.Get(ctx, kx, table.GetOptions{Consistent: true})
	require.NoError(t, err)
	y, err := tb.Get(ctx, ky, table.GetOptions{Consistent: true})
	require.NoError(t, err)
	nx, _ := x["n"].N().Int64()
	ny, _ := y["n"].N().Int64()
	require.Equal(t, int64(200), nx+ny)
	require.Equal(t, int64(committed.Load()), ny-100)
	require.Positive(t, committed.Load())
}

// TestTableRestart rebuilds the index from the engine and keeps readers'
// positions.
func TestTableRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	m, err := table.New(table.Config{}, table.Deps{Engine: e})
	require.NoError(t, err)
	tb := createTable(t, m, "restart", hashKey, table.ViewNewImage)
	for i := range 100 {
		_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"k%03d","i":%d}`, i, i)), table.WriteOptions{})
		require.NoError(t, err)
	}
	_, err = tb.Delete(ctx, key(t, tb, `{"pk":"k007"}`), table.WriteOptions{})
	require.NoError(t, err)
	r, err := tb.Reader("trigger")
	require.NoError(t, err)
	require.NoError(t, r.Commit(ctx, 42))
	require.NoError(t, m.Close())
	require.NoError(t, e.Close())

	e = enginetest.Start(t, enginetest.WithDir(dir))
	m = newManager(t, e)
	tb, err = m.Open(ctx, "restart")
	require.NoError(t, err)
	require.Equal(t, int64(99), tb.Info().Items)
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"k042"}`), table.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"i":42,"pk":"k042"}`, plain(got))
	r, err = tb.Reader("trigger")
	require.NoError(t, err)
	seq, ok, err := r.Checkpoint(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, uint64(42), seq)
}

// TestTableLatestHistory: a table of HistoryLatest keeps one version per
// item in the engine, whatever was written; reads, conditional writes,
// transactions and a restart behave as in any table, and the change stream
// read from the start holds each item's newest change.
func TestTableLatestHistory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	m, err := table.New(table.Config{}, table.Deps{Engine: e})
	require.NoError(t, err)
	info, err := m.Create(ctx, table.Spec{Name: "features", Key: hashKey, StreamView: table.ViewNewAndOldImgs, ChangeHistory: table.HistoryLatest})
	require.NoError(t, err)
	require.Equal(t, table.HistoryLatest, info.ChangeHistory)
	tb, err := m.Open(ctx, "features")
	require.NoError(t, err)
	require.Equal(t, table.HistoryLatest, tb.Info().ChangeHistory)

	for i := range 50 {
		_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"a","n":%d}`, i)), table.WriteOptions{})
		require.NoError(t, err)
	}
	_, err = tb.Put(ctx, it(t, `{"pk":"b","n":1}`), table.WriteOptions{NoSync: true, Unchecked: true})
	require.NoError(t, err)
	_, err = tb.Put(ctx, it(t, `{"pk":"b","n":2}`), table.WriteOptions{NoSync: true, Unchecked: true})
	require.NoError(t, err)
	_, err = tb.Put(ctx, it(t, `{"pk":"c","n":1}`), table.WriteOptions{})
	require.NoError(t, err)
	_, err = tb.Delete(ctx, key(t, tb, `{"pk":"c"}`), table.WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, tb.Sync(ctx))

	// A conditional write still sees the item's current version.
	_, err = tb.Put(ctx, it(t, `{"pk":"a","n":-1}`), table.WriteOptions{Condition: cond(t, "n = :n", `{"n":48}`)})
	require.ErrorIs(t, err, table.ErrConditionFailed)
	_, err = tb.Update(ctx, key(t, tb, `{"pk":"a"}`), update(t, "SET n = n + :one", `{"one":1}`), table.WriteOptions{Condition: cond(t, "n = :n", `{"n":49}`)})
	require.NoError(t, err)

	d, err := m.Describe(ctx, "features")
	require.NoError(t, err)
	require.Equal(t, int64(2), d.Items)
	require.Equal(t, uint64(3), d.Messages, "a, b and c's tombstone: one version each")

	// The change stream from the start: each item's newest change, in the
	// order they were made.
	cs, _, err := tb.ReadChanges(ctx, 1, 100)
	require.NoError(t, err)
	require.Len(t, cs, 3)
	require.Equal(t, `{"n":2,"pk":"b"}`, plain(cs[0].New))
	require.Equal(t, `{"n":1,"pk":"b"}`, plain(cs[0].Old), "the old image travels with the change")
	require.Equal(t, table.EventRemove, cs[1].Event)
	require.Equal(t, `{"n":1,"pk":"c"}`, plain(cs[1].Old))
	require.Equal(t, table.EventModify, cs[2].Event)
	require.Equal(t, `{"n":50,"pk":"a"}`, plain(cs[2].New))

	// Transactions: one commits, one is canceled by its condition.
	move := func(n int) []table.TransactAction {
		return []table.TransactAction{
			{Table: tb, Kind: table.TransactUpdate, Key: key(t, tb, `{"pk":"a"}`), Update: update(t, "SET n = n - :k", fmt.Sprintf(`{"k":%d}`, n)), Condition: cond(t, "n >= :k", fmt.Sprintf(`{"k":%d}`, n))},
			{Table: tb, Kind: table.TransactUpdate, Key: key(t, tb, `{"pk":"b"}`), Update: update(t, "SET n = n + :k", fmt.Sprintf(`{"k":%d}`, n))},
		}
	}
	require.NoError(t, m.TransactWrite(ctx, move(30)))
	require.ErrorIs(t, m.TransactWrite(ctx, move(30)), table.ErrTransactionCanceled)
	d, err = m.Describe(ctx, "features")
	require.NoError(t, err)
	require.Equal(t, uint64(3), d.Messages, "markers replaced the versions and were replaced in turn")

	// A restart rebuilds the index from the one version each item has.
	require.NoError(t, m.Close())
	require.NoError(t, e.Close())
	e = enginetest.Start(t, enginetest.WithDir(dir))
	m = newManager(t, e)
	tb, err = m.Open(ctx, "features")
	require.NoError(t, err)
	require.Equal(t, table.HistoryLatest, tb.Info().ChangeHistory)
	for k, want := range map[string]string{"a": `{"n":20,"pk":"a"}`, "b": `{"n":32,"pk":"b"}`, "c": "null"} {
		got, err := tb.Get(ctx, key(t, tb, fmt.Sprintf(`{"pk":%q}`, k)), table.GetOptions{Consistent: true})
		require.NoError(t, err)
		require.Equal(t, want, plain(got), k)
	}
	_, err = tb.Put(ctx, it(t, `{"pk":"a","n":0}`), table.WriteOptions{Condition: cond(t, "n = :n", `{"n":20}`)})
	require.NoError(t, err)
	d, err = m.Describe(ctx, "features")
	require.NoError(t, err)
	require.Equal(t, uint64(3), d.Messages)
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

// A Get with a projection decodes only the top-level attributes the
// projection reaches, and returns what the projection of the whole item
// gives: nested paths, absent attributes, an absent item, and both read
// paths (index and engine).
func TestTableGetProjection(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	m := newManager(t, e)
	_, err := m.Create(ctx, table.Spec{Name: "projected", Key: hashKey})
	require.NoError(t, err)
	tb, err := m.Open(ctx, "projected")
	require.NoError(t, err)
	full := it(t, `{"pk":"a","price":129.99,"name":"runner","attrs":{"color":"red","sizes":[40,41,42]},"tags":["x","y"],"stock":3}`)
	_, err = tb.Put(ctx, full, table.WriteOptions{})
	require.NoError(t, err)
	key := item.Key{Partition: item.StringValue("a")}
	for _, src := range []string{"price", "price, stock", "attrs.sizes[1], stock", "absent", "tags[0], absent.b"} {
		proj, err := expr.CompileProjection(src, nil)
		require.NoError(t, err)
		for _, consistent := range []bool{false, true} {
			got, err := tb.Get(ctx, key, table.GetOptions{Projection: proj, Consistent: consistent})
			require.NoError(t, err)
			require.Equal(t, plain(proj.Apply(full)), plain(got), "%s (consistent %v)", src, consistent)
		}
	}
	proj, err := expr.CompileProjection("price", nil)
	require.NoError(t, err)
	got, err := tb.Get(ctx, item.Key{Partition: item.StringValue("nope")}, table.GetOptions{Projection: proj})
	require.NoError(t, err)
	require.Nil(t, got)
}

// A write with NoSync is answered once stored, without waiting for a
// group sync (fsync always), and is read at once; Sync then waits for one
// sync that covers it. A write without it waits for its own.
func TestTableNoSyncThenSync(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	tb := createTable(t, newManager(t, e), "nosync", hashKey, table.ViewNewImage)

	_, waits0 := e.SyncStats()
	for i := range 5 {
		_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"k%d","v":%d}`, i, i)), table.WriteOptions{NoSync: true})
		require.NoError(t, err)
	}
	_, err := tb.Update(ctx, key(t, tb, `{"pk":"k0"}`), update(t, "SET v = v + :one", `{"one":1}`), table.WriteOptions{NoSync: true})
	require.NoError(t, err)
	_, waits := e.SyncStats()
	require.Equal(t, waits0, waits, "no NoSync write waited for a sync")
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"k0"}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, "1", got["v"].N().String())

	require.NoError(t, tb.Sync(ctx))
	_, waits = e.SyncStats()
	require.Equal(t, waits0+1, waits, "Sync waited for one sync")

	_, err = tb.Put(ctx, it(t, `{"pk":"k9","v":9}`), table.WriteOptions{})
	require.NoError(t, err)
	_, after := e.SyncStats()
	require.Equal(t, waits+1, after, "a write without NoSync waits for its sync")
}

// A batch write stores its requests without waiting for a sync each and
// returns after one sync of the table: its writes are durable, and a
// batch of 25 waits for one sync instead of 25.
func TestTableBatchWriteSyncsOnce(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	tb := createTable(t, newManager(t, e), "batch", hashKey, table.ViewNewImage)
	_, err := tb.Put(ctx, it(t, `{"pk":"gone"}`), table.WriteOptions{})
	require.NoError(t, err)

	reqs := []table.WriteRequest{{Delete: key(t, tb, `{"pk":"gone"}`)}}
	for i := range table.MaxBatchWrite - 1 {
		reqs = append(reqs, table.WriteRequest{Put: it(t, fmt.Sprintf(`{"pk":"k%02d","v":%d}`, i, i))})
	}
	_, waits0 := e.SyncStats()
	n, err := tb.BatchWrite(ctx, reqs)
	require.NoError(t, err)
	require.Equal(t, table.MaxBatchWrite, n)
	_, waits := e.SyncStats()
	require.Equal(t, waits0+1, waits, "the batch waited for one sync")
	for i := range table.MaxBatchWrite - 1 {
		got, err := tb.Get(ctx, key(t, tb, fmt.Sprintf(`{"pk":"k%02d"}`, i)), table.GetOptions{Consistent: true})
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i), got["v"].N().String())
	}
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"gone"}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Nil(t, got, "the delete applied")
}

// An unchecked put or delete is stored without the engine's check of the
// item's last version, and reads as any other write; it takes no
// condition and is no update.
func TestTableUncheckedWrite(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	tb := createTable(t, newManager(t, e), "unchecked", hashKey, table.ViewNewImage)
	unchecked := table.WriteOptions{NoSync: true, Unchecked: true}

	res, err := tb.Put(ctx, it(t, `{"pk":"a","v":1}`), unchecked)
	require.NoError(t, err)
	require.True(t, res.Written)
	res, err = tb.Put(ctx, it(t, `{"pk":"a","v":2}`), unchecked)
	require.NoError(t, err)
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"a"}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, "2", got["v"].N().String())
	s, err := e.JetStream().Stream(ctx, e.Name("table", "unchecked"))
	require.NoError(t, err)
	raw, err := s.GetMsg(ctx, res.Seq)
	require.NoError(t, err)
	require.Empty(t, raw.Header.Get(jetstream.ExpectedLastSubjSeqHeader), "the engine was sent no expectation")

	res, err = tb.Put(ctx, it(t, `{"pk":"a","v":3}`), table.WriteOptions{})
	require.NoError(t, err, "a checked write after unchecked ones")
	raw, err = s.GetMsg(ctx, res.Seq)
	require.NoError(t, err)
	require.NotEmpty(t, raw.Header.Get(jetstream.ExpectedLastSubjSeqHeader), "a checked write sends its expectation")

	_, err = tb.Delete(ctx, key(t, tb, `{"pk":"a"}`), unchecked)
	require.NoError(t, err)
	got, err = tb.Get(ctx, key(t, tb, `{"pk":"a"}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Nil(t, got)

	_, err = tb.Put(ctx, it(t, `{"pk":"b"}`), table.WriteOptions{Unchecked: true, Condition: cond(t, "attribute_not_exists(pk)", "")})
	require.ErrorIs(t, err, table.ErrInvalidArgument)
	_, err = tb.Update(ctx, key(t, tb, `{"pk":"b"}`), update(t, "SET v = :one", `{"one":1}`), table.WriteOptions{Unchecked: true})
	require.ErrorIs(t, err, table.ErrInvalidArgument)
}
