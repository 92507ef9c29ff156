package table_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// encodedTable creates and opens a table (sortKey, old and new images) on
// an engine of its own, with a subscription to its changes from now, and
// returns them, a context ending with the test, and a function making an
// item's binary form from its JSON.
func encodedTable(t *testing.T, name string) (context.Context, *table.Table, *table.Subscription, func(js string) []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	tb := createTable(t, newManager(t, enginetest.Start(t)), name, sortKey, table.ViewNewAndOldImgs)
	live, err := tb.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	t.Cleanup(live.Stop)
	return ctx, tb, live, func(js string) []byte {
		b, err := it(t, js).MarshalBinary()
		require.NoError(t, err)
		return b
	}
}

// TestTablePutEncoded holds PutEncoded to Put: the same stored item, read
// back at once, the same changes with their old images, conditions, and
// the same refusals of items Put refuses.
func TestTablePutEncoded(t *testing.T) {
	ctx, tb, live, bin := encodedTable(t, "encoded")

	res, err := tb.PutEncoded(ctx, bin(`{"pk":"a","sk":1,"v":1.50,"m":{"x":[1,"y",null]}}`), table.WriteOptions{})
	require.NoError(t, err)
	require.True(t, res.Written)
	require.Nil(t, res.New, "PutEncoded does not decode the item")
	require.Nil(t, res.Old())
	k := key(t, tb, `{"pk":"a","sk":1}`)
	got, err := tb.Get(ctx, k, table.GetOptions{})
	require.NoError(t, err, "read your writes")
	require.Equal(t, `{"m":{"x":[1,"y",null]},"pk":"a","sk":1,"v":1.5}`, plain(got))

	res, err = tb.PutEncoded(ctx, bin(`{"pk":"a","sk":1,"v":1.5,"m":{"x":[1,"y",null]}}`), table.WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Written, "the same item again stores nothing")

	_, err = tb.PutEncoded(ctx, bin(`{"pk":"a","sk":1,"v":2}`), table.WriteOptions{Condition: cond(t, "v = :v", `{"v":3}`)})
	require.ErrorIs(t, err, table.ErrConditionFailed)
	res, err = tb.PutEncoded(ctx, bin(`{"pk":"a","sk":1,"v":2}`), table.WriteOptions{Condition: cond(t, "v = :v", `{"v":1.5}`)})
	require.NoError(t, err)
	require.True(t, res.Written)
	require.Equal(t, `{"m":{"x":[1,"y",null]},"pk":"a","sk":1,"v":1.5}`, plain(res.Old()))
	_, err = tb.Put(ctx, it(t, `{"pk":"a","sk":1,"v":3}`), table.WriteOptions{})
	require.NoError(t, err)

	type ev struct{ name, keys, old, new string }
	for i, w := range []ev{
		{"INSERT", `{"pk":"a","sk":1}`, "null", `{"m":{"x":[1,"y",null]},"pk":"a","sk":1,"v":1.5}`},
		{"MODIFY", `{"pk":"a","sk":1}`, `{"m":{"x":[1,"y",null]},"pk":"a","sk":1,"v":1.5}`, `{"pk":"a","sk":1,"v":2}`},
		{"MODIFY", `{"pk":"a","sk":1}`, `{"pk":"a","sk":1,"v":2}`, `{"pk":"a","sk":1,"v":3}`},
	} {
		c, err := live.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, w, ev{string(c.Event), plain(c.Keys), plain(c.Old), plain(c.New)}, "change %d", i)
	}

	// What Put refuses, PutEncoded refuses with the same error.
	for _, bad := range []item.Item{
		it(t, `{"sk":1,"v":1}`),
		it(t, `{"pk":"a","v":1}`),
		it(t, `{"pk":1,"sk":1}`),
		it(t, `{"pk":"a","sk":"1"}`),
		it(t, `{"pk":"","sk":1}`),
		{"pk": item.StringValue("a"), "sk": item.IntValue(1), "": item.BoolValue(true)},
		{"pk": item.StringValue("a"), "sk": item.IntValue(1), "big": item.StringValue(strings.Repeat("x", item.MaxSize))},
	} {
		_, perr := tb.Put(ctx, bad, table.WriteOptions{})
		require.Error(t, perr, plain(bad))
		data, err := bad.MarshalBinary()
		require.NoError(t, err)
		_, err = tb.PutEncoded(ctx, data, table.WriteOptions{})
		require.EqualError(t, err, perr.Error(), plain(bad))
	}
	good := bin(`{"pk":"b","sk":1}`)
	for _, data := range [][]byte{nil, good[:len(good)-1], append(good[:len(good):len(good)], 0)} {
		_, err := tb.PutEncoded(ctx, data, table.WriteOptions{})
		var ve *item.ValidationError
		require.ErrorAs(t, err, &ve, "%q", data)
	}
	got, err = tb.Get(ctx, key(t, tb, `{"pk":"b","sk":1}`), table.GetOptions{})
	require.NoError(t, err)
	require.Nil(t, got, "nothing refused was stored")
}
