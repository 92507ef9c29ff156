package trigger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

// TestTriggerTableSource runs a Go function on a table's changes: it gets
// typed images (the pricing function reads the new image) in the order
// the changes were made, and filters see the DynamoDB Streams record.
func TestTriggerTableSource(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.tables.Create(ctx, table.Spec{Name: "pricing_features",
		Key:        item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}},
		StreamView: table.ViewNewAndOldImgs})
	require.NoError(t, err)
	tb, err := e.tables.Open(ctx, "pricing_features")
	require.NoError(t, err)

	type seen struct {
		event, product string
		price, old     string
	}
	var mu sync.Mutex
	var got []seen
	require.NoError(t, e.fns.Register("reprice", trigger.FunctionOf(func(_ context.Context, b *trigger.Batch) (trigger.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			s := seen{event: r.Change.EventName, product: r.Change.Keys["product_id"].S()}
			if r.Change.NewImage != nil {
				s.price = r.Change.NewImage["price"].N().String()
			}
			if r.Change.OldImage != nil {
				s.old = r.Change.OldImage["price"].N().String()
			}
			got = append(got, s)
		}
		return trigger.Response{}, nil
	})))
	// An HTTP function beside it receives DynamoDB Streams records.
	var hmu sync.Mutex
	var records []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Records []map[string]any }
		require.NoError(t, json.NewDecoder(r.Body).Decode(&ev))
		hmu.Lock()
		records = append(records, ev.Records...)
		hmu.Unlock()
	}))
	defer srv.Close()
	e.apply("name: reprice\nsource: table:pricing_features\nfunction: go:reprice\nfilters:\n  - pattern: {eventName: [INSERT, MODIFY]}\n")
	e.apply(fmt.Sprintf("name: audit\nsource: table:pricing_features\nfunction: %s\n", srv.URL))

	put := func(id string, price int64) {
		_, err := tb.Put(ctx, item.Item{"product_id": item.StringValue(id), "price": item.IntValue(price)}, table.WriteOptions{})
		require.NoError(t, err)
	}
	put("p1", 100)
	put("p2", 50)
	put("p1", 110)
	key, err := tb.Schema().KeyOf(item.Item{"product_id": item.StringValue("p2")})
	require.NoError(t, err)
	_, err = tb.Delete(ctx, key, table.WriteOptions{})
	require.NoError(t, err)
	put("p1", 120)

	waitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < 4 {
			return fmt.Errorf("%d of 4 changes", len(got))
		}
		return nil
	})
	mu.Lock()
	require.Equal(t, []seen{
		{"INSERT", "p1", "100", ""}, {"INSERT", "p2", "50", ""}, {"MODIFY", "p1", "110", "100"}, {"MODIFY", "p1", "120", "110"},
	}, got, "the REMOVE is filtered out")
	mu.Unlock()

	waitFor(t, 10*time.Second, func() error {
		hmu.Lock()
		defer hmu.Unlock()
		if len(records) < 5 {
			return fmt.Errorf("%d of 5 records", len(records))
		}
		return nil
	})
	hmu.Lock()
	defer hmu.Unlock()
	r := records[3]
	require.Equal(t, "REMOVE", r["eventName"])
	require.Equal(t, "aws:dynamodb", r["eventSource"])
	require.Equal(t, "1.1", r["eventVersion"])
	require.Contains(t, r["eventSourceARN"], "arn:aws:dynamodb:us-east-1:000000000000:table/pricing_features/stream/")
	ddb := r["dynamodb"].(map[string]any)
	require.Equal(t, map[string]any{"product_id": map[string]any{"S": "p2"}}, ddb["Keys"])
	require.Equal(t, map[string]any{"product_id": map[string]any{"S": "p2"}, "price": map[string]any{"N": "50"}}, ddb["OldImage"])
	require.NotContains(t, ddb, "NewImage")
	require.Equal(t, "NEW_AND_OLD_IMAGES", ddb["StreamViewType"])
	require.Len(t, ddb["SequenceNumber"], 21)
}

// imageRecorder is a Go function that records the images it gets, as
// plain JSON; with attrs set it declares them ([trigger.ImageProjector]).
type imageRecorder struct {
	attrs []string
	mu    sync.Mutex
	got   []string // "NEW OLD" per record
}

func (f *imageRecorder) Invoke(_ context.Context, b *trigger.Batch) (trigger.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range b.Records {
		img := func(it item.Item) string {
			if it == nil {
				return "-"
			}
			return string(it.AppendPlainJSON(nil))
		}
		f.got = append(f.got, img(r.Change.NewImage)+" "+img(r.Change.OldImage))
	}
	return trigger.Response{}, nil
}

func (f *imageRecorder) ImageAttrs() []string { return f.attrs }

func (f *imageRecorder) wait(t *testing.T, n int) []string { return waitGot(t, &f.mu, &f.got, n) }

// waitGot waits until *got, guarded by mu, holds n records and returns a
// copy of it.
func waitGot(t *testing.T, mu *sync.Mutex, got *[]string, n int) []string {
	t.Helper()
	waitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(*got) < n {
			return fmt.Errorf("%d of %d records", len(*got), n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), *got...)
}

var _ trigger.ImageProjector = (*imageRecorder)(nil)

// TestTriggerTableProjection: a Go function that names the attributes it
// reads gets the images projected to those and to the ones its trigger's
// filters read; one that names none, or whose filter reads a whole image,
// gets whole images.
func TestTriggerTableProjection(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.tables.Create(ctx, table.Spec{Name: "rows",
		Key:        item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}},
		StreamView: table.ViewNewAndOldImgs})
	require.NoError(t, err)
	tb, err := e.tables.Open(ctx, "rows")
	require.NoError(t, err)

	fns := map[string]*imageRecorder{
		"projected":   {attrs: []string{"price", "absent"}},
		"filtered":    {attrs: []string{"price"}},
		"wholefilter": {attrs: []string{"price"}},
		"whole":       {},
		"keys":        {attrs: []string{}},
	}
	for name, f := range fns {
		require.NoError(t, e.fns.Register(name, f))
	}
	e.apply("name: projected\nsource: table:rows\nfunction: go:projected\n")
	e.apply("name: filtered\nsource: table:rows\nfunction: go:filtered\nfilters:\n" +
		"  - pattern: {dynamodb: {NewImage: {cat: {S: [{prefix: sh}]}}}}\n" +
		"  - pattern: {eventName: [REMOVE], dynamodb: {OldImage: {tag: {S: [{exists: true}]}}}}\n")
	e.apply("name: wholefilter\nsource: table:rows\nfunction: go:wholefilter\nfilters:\n  - pattern: {dynamodb: {NewImage: [{exists: false}]}}\n")
	e.apply("name: whole\nsource: table:rows\nfunction: go:whole\n")
	e.apply("name: keys\nsource: table:rows\nfunction: go:keys\n")

	put := func(js string) {
		t.Helper()
		it, err := item.ParseJSON([]byte(js), "")
		require.NoError(t, err)
		_, err = tb.Put(ctx, it, table.WriteOptions{})
		require.NoError(t, err)
	}
	put(`{"pk":"a","price":1,"cat":"shoe","tag":"x","extra":{"deep":[1,2]}}`)
	put(`{"pk":"a","price":2,"cat":"hat","extra":"y"}`)
	key, err := tb.Schema().KeyOf(item.Item{"pk": item.StringValue("a")})
	require.NoError(t, err)
	_, err = tb.Delete(ctx, key, table.WriteOptions{})
	require.NoError(t, err)

	require.Equal(t, []string{
		`{"price":1} -`,
		`{"price":2} {"price":1}`,
		`- {"price":2}`,
	}, fns["projected"].wait(t, 3))
	// The filter's attributes come along: the first change passes on cat,
	// the second fails on it, the REMOVE fails on tag (the old image has none).
	require.Equal(t, []string{`{"cat":"shoe","price":1,"tag":"x"} -`}, fns["filtered"].wait(t, 1))
	wholeImages := []string{
		`{"cat":"shoe","extra":{"deep":[1,2]},"pk":"a","price":1,"tag":"x"} -`,
		`{"cat":"hat","extra":"y","pk":"a","price":2} {"cat":"shoe","extra":{"deep":[1,2]},"pk":"a","price":1,"tag":"x"}`,
		`- {"cat":"hat","extra":"y","pk":"a","price":2}`,
	}
	require.Equal(t, wholeImages, fns["whole"].wait(t, 3))
	require.Equal(t, wholeImages, fns["wholefilter"].wait(t, 3))
	require.Equal(t, []string{`{} -`, `{} {}`, `- {}`}, fns["keys"].wait(t, 3))

	// The next change comes after the ones filtered out.
	put(`{"pk":"b","price":3,"cat":"shirt"}`)
	require.Equal(t, `{"price":3} -`, fns["projected"].wait(t, 4)[3])
	require.Equal(t, []string{`{"cat":"shoe","price":1,"tag":"x"} -`, `{"cat":"shirt","price":3} -`}, fns["filtered"].wait(t, 2))
	require.Equal(t, `{"cat":"shirt","pk":"b","price":3} -`, fns["wholefilter"].wait(t, 4)[3])
}
