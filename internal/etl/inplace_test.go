package etl

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Records decoded in place alias their input. These tests decode from
// buffers of their own, overwrite the buffers as a reused buffer would be
// ('X' everywhere), and check that nothing kept past the event changed
// with them: window state (keys, last, min and max of strings), rows a
// sink holds, dead letters.

// inPlaceSource is the source of the jobs below: typed, with fields the
// schema does not name kept.
const inPlaceSource = `
name: inplace
source:
  stream: clicks
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: event_time, type: timestamp}
    - {name: event_type, type: string}
    - {name: product_id, type: string}
    - {name: price, type: double}
    - {name: device, type: string}
    - {name: referrer, type: string}
    - {name: campaign, type: 'struct<name:string>'}
dead_letter: d
`

func inPlacePlan(t *testing.T, rest string) *Plan {
	t.Helper()
	s, err := Decode([]byte(inPlaceSource + rest))
	require.NoError(t, err)
	p, err := Compile(context.Background(), s, nil)
	require.NoError(t, err)
	return p
}

// clobber overwrites each buffer.
func clobber(bufs ...[]byte) {
	for _, b := range bufs {
		for i := range b {
			b[i] = 'X'
		}
	}
}

// inPlaceEvent is a click at 08:MM:SS on 2026-11-26, with a nested value
// (campaign) and a field the schema does not name (ua).
func inPlaceEvent(at, typ, product, device, referrer, price string) []byte {
	return fmt.Appendf(nil, `{"event_time":"2026-11-26T08:%sZ","event_type":%q,"product_id":%q,"price":%s,"device":%q,"referrer":%q,"campaign":{"name":"c-%s"},"ua":"ua-%s"}`,
		at, typ, product, price, device, referrer, device, device)
}

// TestETLInPlaceWindowState: window state kept from records decoded in
// place owns its strings: a key's value, last, min and max of a string
// field (the bare field's fast path and an expression's), a last of a
// string that repeats, and a last of a double.
func TestETLInPlaceWindowState(t *testing.T) {
	p := inPlacePlan(t, `
window:
  key: [product_id]
  size: 100s
  allowed_lateness: 1s
  emit: final
  aggregates:
    - {name: last_device, last: device}
    - {name: low_ref, min: referrer}
    - {name: high_ref, max: referrer}
    - {name: pick, last: 'event_type == "view" ? referrer : device'}
    - {name: campaign, last: campaign}
    - {name: price, last: price}
    - {name: n, count: true}
sink: {stream: out, partition_key: product_id}
`)
	require.NotNil(t, p.inPlace, "a windowed job with a stream sink decodes in place")
	var rows []*record.Record
	pr := newProcessor(p, nil, func(_ context.Context, _ string, row *record.Record, _ srcMeta) error {
		rows = append(rows, row.CloneOwned())
		return nil
	})
	win := newWindowOp(p.window, func(srcMeta) string { return "0" })
	ctx := context.Background()
	process := func(seq uint64, data []byte) {
		t.Helper()
		o, re, err := pr.processData(ctx, win, data, srcMeta{seq: seq})
		require.NoError(t, err)
		require.Nil(t, re)
		require.Equal(t, outProcessed, o)
	}
	bufs := [][]byte{
		inPlaceEvent("00:10", "view", "44600062", "mobile", "search", "35.79"),
		inPlaceEvent("00:20", "click", "44600062", "desktop", "ads", "36.10"),
		inPlaceEvent("00:30", "view", "44600062", "tablet", "mail", "34.5"),
		inPlaceEvent("00:40", "click", "44600062", "tablet", "zine", "33.25"), // the same device again
	}
	for i, b := range bufs {
		process(uint64(i+1), b)
	}
	clobber(bufs...)
	ks := win.keys["44600062"]
	require.NotNil(t, ks, "the key's state is found by its text")
	require.Equal(t, "44600062", ks.vals[0].Str(), "the key's value")
	// A later event of another product closes the first one's window.
	process(5, inPlaceEvent("02:00", "view", "3900821", "mobile", "search", "1"))
	require.Len(t, rows, 1, "the closed window's final row")
	got := rows[0]
	for name, want := range map[string]string{
		"product_id":  `"44600062"`,
		"last_device": `"tablet"`,
		"low_ref":     `"ads"`,
		"high_ref":    `"zine"`,
		"pick":        `"tablet"`, // the last event is a click: its device
		"campaign":    `{"name":"c-tablet"}`,
		"price":       `33.25`,
		"n":           `4`,
	} {
		v, ok := got.Get(name)
		require.True(t, ok, name)
		require.Equal(t, want, v.String(), "%s after the input was overwritten (row %s)", name, got)
	}
}

// TestETLInPlaceSinkRows: the rows of jobs without a window reach their
// sink with the decoded record's strings and names (campaign is outside
// the schema). A table sink keeps them until a writer takes them, so
// such a job decodes with a copy; a stream sink encodes the row before
// emit returns and copies the partition key, so its job decodes in place.
// Either way what the sink writes, after the input was overwritten, is
// what was decoded.
func TestETLInPlaceSinkRows(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	_, tb := e.clicksAndFeatures(t, 1)
	_, err := e.streams.Create(ctx, stream.Spec{Name: "rows", Partitions: 1})
	require.NoError(t, err)
	st, err := e.streams.Open(ctx, "rows")
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	process := func(p *Plan, sink rowSink, data []byte) {
		t.Helper()
		pr := newProcessor(p, nil, func(ctx context.Context, _ string, row *record.Record, m srcMeta) error {
			return sink.emit(ctx, row, m, 0)
		})
		o, re, err := pr.processData(ctx, nil, data, srcMeta{seq: 1})
		require.NoError(t, err)
		require.Nil(t, re)
		require.Equal(t, outProcessed, o)
	}
	run := func(sink rowSink) {
		t.Helper()
		ep := sink.barrier()
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sink.run(wctx) }()
		require.NoError(t, sink.wait(ctx, ep))
		stop()
		require.NoError(t, <-done)
	}

	t.Run("table", func(t *testing.T) {
		p := inPlacePlan(t, "sink: {table: features}\n")
		require.Nil(t, p.inPlace, "rows reach a table sink unwindowed: decoded with a copy")
		sink := newTableSink(tb, 1, 10, logger)
		data := inPlaceEvent("00:10", "view", "44600062", "mobile", "search", "35.79")
		process(p, sink, data)
		clobber(data)
		run(sink) // the writer takes the row after the input changed
		it, err := tb.Get(ctx, item.Key{Partition: item.StringValue("44600062")}, table.GetOptions{Consistent: true})
		require.NoError(t, err)
		require.NotNil(t, it, "the row is stored under its key")
		require.Equal(t, "mobile", it["device"].S())
		require.Equal(t, "search", it["referrer"].S())
		require.Equal(t, "c-mobile", it["campaign"].M()["name"].S())
		require.Contains(t, it, "ua", "a field outside the schema keeps its name")
		require.Equal(t, "ua-mobile", it["ua"].S())
	})

	t.Run("stream", func(t *testing.T) {
		p := inPlacePlan(t, "sink: {stream: rows, partition_key: product_id}\n")
		require.NotNil(t, p.inPlace, "rows reach only a stream sink: decoded in place")
		sink := &streamSink{appender: newAppender(st, 10, logger), keyField: "product_id"}
		data := inPlaceEvent("00:10", "view", "44600062", "mobile", "search", "35.79")
		want := string(data)
		process(p, sink, data)
		clobber(data)
		run(sink)
		res, err := st.Read(ctx, 0, stream.Position{}, stream.ReadOptions{MaxRecords: 10})
		require.NoError(t, err)
		require.Len(t, res.Records, 1)
		require.Equal(t, "44600062", res.Records[0].PartitionKey)
		require.JSONEq(t, want, string(res.Records[0].Data))
	})
}

// TestETLInPlaceDeadLetters: a dead letter of a record decoded in place
// carries the original bytes and the error as they were, after the input
// was overwritten: a decode error (its field is a slice of the input), a
// timestamp that does not parse, and a record a transform rejects.
func TestETLInPlaceDeadLetters(t *testing.T) {
	p := inPlacePlan(t, `
transforms:
  - assert: {expr: 'device != "bot"', reason: bot}
sink: {stream: out, partition_key: product_id}
`)
	require.NotNil(t, p.inPlace)
	r := &run{job: "inplace", plan: p, dlq: newAppender(nil, 10, slog.New(slog.DiscardHandler))}
	pr := newProcessor(p, nil, func(context.Context, string, *record.Record, srcMeta) error { return nil })
	copied := record.NewJSONDecoder(record.JSONOptions{Schema: p.source})
	ctx := context.Background()
	for i, in := range []string{
		`{"event_time":"2026-11-26T08:00:10Z","event_type":"view","product_id":"44600062","price":tru}`,
		`{"event_time":"2026-11-26T25:00:10Z","event_type":"view","product_id":"44600062"}`,
		`{"event_type":"view","product_id":"44600062","device":"bot","event_time":"2026-11-26T08:00:10Z"}`,
	} {
		data := []byte(in)
		o, re, err := pr.processData(ctx, nil, data, srcMeta{seq: uint64(i + 1)})
		require.NoError(t, err)
		require.Equal(t, outDead, o, in)
		sr := &srcRecord{data: data, key: "44600062", m: srcMeta{seq: uint64(i + 1)}}
		require.NoError(t, r.deadLetter(ctx, sr, re))
		clobber(data)
		var dl DeadLetter
		require.NoError(t, json.Unmarshal(r.dlq.mu.queue[i].e.Data, &dl))
		require.Equal(t, in, string(dl.Data), "the original bytes")
		require.Equal(t, "44600062", dl.PartitionKey)
		if i < 2 {
			var rec record.Record
			want := copied.Decode([]byte(in), &rec)
			require.Error(t, want)
			require.Equal(t, want.Error(), dl.Error, "the decode error as it was")
			require.Equal(t, want.Error(), re.Err.Error(), "the record error after the input changed")
		} else {
			require.Equal(t, "bot", dl.Reason)
		}
	}
}

// TestETLInPlaceNoCopy: a windowed job's event, once its key has state,
// allocates nothing: the decode does not copy the input, and a last of a
// string that repeats is not copied again.
func TestETLInPlaceNoCopy(t *testing.T) {
	p := inPlacePlan(t, `
transforms:
  - filter: 'device != "bot"'
window:
  key: [product_id]
  aggregates:
    - {name: views, count_if: 'event_type == "view"'}
    - {name: device, last: device}
    - {name: price, last: price}
sink: {stream: out, partition_key: product_id}
`)
	pr := newProcessor(p, nil, func(context.Context, string, *record.Record, srcMeta) error { return nil })
	win := newWindowOp(p.window, func(srcMeta) string { return "0" })
	data := inPlaceEvent("00:10", "view", "44600062", "mobile", "search", "35.79")
	ctx := context.Background()
	seq := uint64(0)
	allocs := testing.AllocsPerRun(100, func() {
		seq++
		if o, _, err := pr.processData(ctx, win, data, srcMeta{seq: seq}); err != nil || o != outProcessed {
			t.Fatal(o, err)
		}
	})
	require.Zero(t, allocs, "allocations per event")
}
