package etl

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLJoinPrune checks which fields joins set: all without a window;
// before a window, those the window's keys, event time and aggregates, or
// a later join's on, read.
func TestETLJoinPrune(t *testing.T) {
	const head = `
name: j
source:
  stream: clicks
  event_time: event_time
  schema:
    - {name: event_time, type: timestamp}
    - {name: product_id, type: string}
    - {name: a, type: string}
joins:
  - table: t1
    on: product_id
    fields:
      - {name: f1, type: double}
      - {name: f2, type: string}
      - {name: f3, type: string, as: event_time}
      - {name: f4, type: string, as: a}
  - table: t2
    on: f2
    fields: [{name: g1, type: string}, {name: g2, type: long}]
    position_field: seen
`
	for _, tc := range []struct {
		name, tail string
		live       [][]bool
	}{
		{"no window", "sink: {table: out}\ndead_letter: d\n",
			[][]bool{{true, true, true, true, true}, {true, true, true}}},
		{"window", `window:
  key: [product_id]
  aggregates:
    - {name: n, count_if: 'g1 == "x"'}
    - {name: l, last: f1}
sink: {table: out}
dead_letter: d
`, [][]bool{{true, true, true, false, false}, {true, false, false}}},
		{"window on paths", `window:
  key: [a]
  aggregates:
    - {name: n, count: true}
    - {name: s, sum: 'g2 * 2'}
    - {name: m, max: 'f2 + "!"'}
sink: {table: out}
dead_letter: d
`, [][]bool{{false, true, true, true, false}, {false, true, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Decode([]byte(head + tc.tail))
			require.NoError(t, err)
			p, err := Compile(context.Background(), spec, nil)
			require.NoError(t, err)
			require.Len(t, p.joinOuts, len(tc.live))
			for i, jo := range p.joinOuts {
				require.Equal(t, tc.live[i], jo.live, "joins[%d] %v", i, jo.names)
			}
		})
	}
}

// TestETLLookupFollow: a lookup holds the join's fields of each item, typed,
// from the table's snapshot and then its changes (puts, updates of other
// attributes, deletes), decoding only the key and those fields.
func TestETLLookupFollow(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := e.tables.Create(ctx, table.Spec{Name: "products", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	require.NoError(t, err)
	products, err := e.tables.Open(ctx, "products")
	require.NoError(t, err)
	put := func(js string) {
		t.Helper()
		it, err := item.ParseJSON([]byte(js), "")
		require.NoError(t, err)
		_, err = products.Put(ctx, it, table.WriteOptions{})
		require.NoError(t, err)
	}
	put(`{"product_id":"p1","base_price":100,"price":90,"name":"runner","tags":{"a":[1,2]}}`)
	put(`{"product_id":"p2","price":"80","name":"walker"}`)

	spec := &JoinSpec{Table: "products", On: "product_id", Fields: []JoinFieldSpec{
		{Name: "base_price", Type: "double"}, {Name: "price", Type: "long", As: "list_price"}, {Name: "name", Type: "string"},
	}}
	l := newLookup(spec, []*record.Type{record.TypeDouble, record.TypeLong, record.TypeString})
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, products, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	<-l.Ready()
	row := func(key string) string {
		vals := make([]record.Value, len(spec.Fields))
		ok, _ := l.Get(key, vals)
		if !ok {
			return "none"
		}
		r := record.New(len(vals))
		for i, f := range spec.Fields {
			r.Append(f.Name, vals[i])
		}
		return fmt.Sprint(r.Fields())
	}
	require.Equal(t, 2, l.Len())
	p1 := row("p1")
	require.Contains(t, p1, "base_price")
	require.Contains(t, p1, "runner")
	require.NotContains(t, p1, "tags")

	put(`{"product_id":"p2","price":85,"name":"walker","extra":true}`)
	key, err := products.ParseKey(item.Item{"product_id": item.StringValue("p1")})
	require.NoError(t, err)
	_, err = products.Delete(ctx, key, table.WriteOptions{})
	require.NoError(t, err)
	put(`{"product_id":"p3","base_price":5}`)
	want := map[string]string{}
	for id, js := range map[string]string{
		"p2": `{"product_id":"p2","price":85,"name":"walker"}`,
		"p3": `{"product_id":"p3","base_price":5}`,
	} {
		it, err := item.ParseJSON([]byte(js), "")
		require.NoError(t, err)
		_, r := l.row(it)
		want[id] = fmt.Sprint(r.Fields())
	}
	waitFor(t, 10*time.Second, func() error {
		for id, w := range map[string]string{"p1": "none", "p2": want["p2"], "p3": want["p3"]} {
			if got := row(id); got != w {
				return fmt.Errorf("%s: %s, want %s", id, got, w)
			}
		}
		return nil
	})
	require.Equal(t, []string{"base_price", "name", "price", "product_id"}, l.attrs())
}

// A lookup's rows live in slots of one array: a removed key's slot is the
// next new key's, every key reads back its own values, and a removed key
// reads none. Fields of fixed-width types are kept as words; a value the
// words would not give back as it was (a number's own text, a value not
// of its field's kind) is kept whole, and reads back so.
func TestETLLookupRowsSlots(t *testing.T) {
	types := map[string][]*record.Type{
		"values": {record.TypeLong, record.TypeString},
		"words":  {record.TypeLong, record.TypeDouble, record.TypeBool, record.TypeTime},
	}
	for layout, ts := range types {
		t.Run(layout, func(t *testing.T) {
			rs := newLookupRows(ts)
			require.Equal(t, layout == "words", rs.kinds != nil)
			rec := func(a int64, b string) *record.Record {
				r := record.New(len(ts))
				r.Append("a", record.LongValue(a))
				if layout == "values" {
					r.Append("b", record.StringValue(b))
					return r
				}
				var d record.Value // null, then numbers with and without text
				switch a % 3 {
				case 1:
					d = record.DoubleValue(float64(a) + 0.25)
				case 2:
					d = record.NumberValue(float64(a)+0.5, strconv.FormatFloat(float64(a)+0.5, 'g', -1, 64))
				}
				r.Append("d", d)
				r.Append("b", record.BoolValue(a%2 == 0))
				r.Append("t", record.TimestampNanos(-a*1e9))
				return r
			}
			want := map[string]*record.Record{}
			set := func(k string, r *record.Record) { rs.set(k, r); want[k] = r }
			remove := func(k string) { rs.remove(k); delete(want, k) }
			set("k1", rec(1, "one"))
			set("k2", rec(2, "two"))
			set("k3", rec(3, "three"))
			remove("k2")
			remove("nope")
			set("k4", rec(4, "four")) // k2's slot
			set("k1", rec(10, "ten")) // in place
			remove("k3")
			set("k5", rec(5, "five")) // k3's slot
			set("k6", rec(6, "six"))  // a new slot
			if layout == "words" {
				require.Len(t, rs.words, 4*rs.stride, "four slots for the four keys: the removed ones' reused")
				require.Equal(t, 8, rs.stride, "five words a row, in a slot of eight")
				// Texts that are not the number's own spelling, and a
				// value of another kind, are kept whole; set again
				// without them, the row forgets them.
				odd := rec(7, "")
				odd.SetAt(1, record.NumberValue(19.9, "19.90"))
				odd.SetAt(0, record.NumberValue(7, "007"))
				set("k7", odd)
				kind := rec(8, "")
				kind.SetAt(2, record.StringValue("yes"))
				set("k8", kind)
				require.Len(t, rs.spill, 3)
				set("k7", rec(7, ""))
				remove("k8")
				require.Empty(t, rs.spill)
				set("k8", odd)
				require.Len(t, rs.spill, 2)
			} else {
				require.Len(t, rs.vals, 4*2, "four slots for the four keys: the removed ones' reused")
			}
			require.Equal(t, len(want), rs.slots.len())
			dst := make([]record.Value, len(ts))
			for k, r := range want {
				require.True(t, rs.get(k, dst), k)
				for i := range dst {
					require.True(t, r.At(i).Value.Equal(dst[i]), "%s[%d]: %v, want %v", k, i, dst[i], r.At(i).Value)
					text := r.At(i).Value.NumberText()
					if layout == "words" && (text == strconv.FormatFloat(r.At(i).Value.Double(), 'g', -1, 64) || text == strconv.FormatInt(r.At(i).Value.Long(), 10)) {
						text = "" // the number's own spelling: the number says it
					}
					require.Equal(t, text, dst[i].NumberText(), "%s[%d]", k, i)
					require.Equal(t, r.At(i).Value.Kind(), dst[i].Kind(), "%s[%d]", k, i)
				}
			}
			for _, k := range []string{"k2", "k3", "nope"} {
				require.False(t, rs.get(k, dst), k)
			}
		})
	}
}

// BenchmarkETLLookupRows reads the rows of the Fast Sneakers job's
// products join (two doubles and a long) of 100,000 products at random,
// as the job does for each event, in the word layout the join's
// fixed-width fields get and in the value layout (the baseline: 40 bytes
// a value) in the same run. heap-B/row is what the rows and their map
// take.
//
//	go test -run '^$' -bench ETLLookupRows -count 6 ./internal/etl/
func BenchmarkETLLookupRows(b *testing.B) {
	const products = 100_000
	types := []*record.Type{record.TypeDouble, record.TypeDouble, record.TypeLong}
	// The keys' bytes in one string, as an event's key is in the event
	// the job just decoded, not a cache miss of its own.
	var all []byte
	for i := range products {
		all = strconv.AppendInt(all, int64(44600000+i), 10)
	}
	keys := make([]string, products)
	for i, s := 0, string(all); i < products; i++ {
		keys[i] = s[i*8 : (i+1)*8]
	}
	for _, layout := range []string{"values", "words"} {
		b.Run("layout="+layout, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rs := newLookupRows(types)
			if layout == "values" {
				rs.kinds = nil
			}
			for i, k := range keys {
				r := record.New(3)
				r.Append("base_price", record.NumberValue(35.79+float64(i%100), strconv.FormatFloat(35.79+float64(i%100), 'g', -1, 64)))
				r.Append("price", record.DoubleValue(40+float64(i%7)))
				r.Append("inventory", record.LongValue(int64(i%500)))
				rs.set(k, r)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			dst := make([]record.Value, 3)
			b.ReportAllocs()
			var sum float64
			for i := 0; b.Loop(); i++ {
				if !rs.get(keys[(i*7919)%products], dst) {
					b.Fatal("no row")
				}
				sum += dst[0].Double()
			}
			if sum == 0 {
				b.Fatal("read nothing")
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/products, "heap-B/row")
			runtime.KeepAlive(&rs)
		})
	}
}
