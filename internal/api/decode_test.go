package api

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

func TestAPIDecodePut(t *testing.T) {
	req := new(PutRequest)
	entries, keep, err := decodePut(req, []byte(`{"records":[{"partition_key":"k","data":{"a":[1,2,{"b":null}]}},{"partition_key":"k2","explicit_hash_key":"7","data":"s"}]}`))
	require.NoError(t, err)
	require.True(t, keep)
	require.Len(t, entries, 2)
	require.Equal(t, `{"a":[1,2,{"b":null}]}`, string(entries[0].Data))
	require.Equal(t, "7", entries[1].ExplicitHashKey)
	// The same request again: what the new body's records lack is not
	// left over from the last (its second record had a hash key and data).
	entries, _, err = decodePut(req, []byte(`{"records":[{"partition_key":"x","data":1},{"partition_key":"y"}]}`))
	require.ErrorIs(t, err, stream.ErrInvalidArgument, "the second record has no data")
	require.Nil(t, entries)
	entries, _, err = decodePut(req, []byte(`{"records":[{"partition_key":"x","data":1},{"partition_key":"y","data":2}]}`))
	require.NoError(t, err)
	require.Equal(t, []stream.Entry{{PartitionKey: "x", Data: []byte("1")}, {PartitionKey: "y", Data: []byte("2")}}, entries)
	for body, want := range map[string]error{
		`{"records":[{"partition_key":"k","data":}]}`: ErrMalformed,
		`[1,2]`:                               ErrMalformed,
		`{"records":[]}`:                      stream.ErrInvalidArgument,
		`{"records":[{"data":1}]}`:            nil, // the key is checked by the stream
		`{"records":[{"partition_key":"k"}]}`: stream.ErrInvalidArgument,
	} {
		_, _, err := decodePut(new(PutRequest), []byte(body))
		if want == nil {
			require.NoError(t, err, body)
			continue
		}
		require.ErrorIs(t, err, want, body)
	}
}

// FuzzAPIDecodePut: any body decodes to entries whose data is valid JSON,
// or to an error; never a panic. Decoded into a request that decoded
// another body first (as puts reuse them), it gives what a new request
// gives.
func FuzzAPIDecodePut(f *testing.F) {
	f.Add([]byte(`{"records":[{"partition_key":"44600062","data":{"event_time":"2019-10-01 00:00:00 UTC","event_type":"view","product_id":44600062,"category_id":2103807459595387724,"price":35.79}}]}`))
	f.Add([]byte(`{"records":[{"partition_key":"k","explicit_hash_key":"1","data":"\u00e9"}]}`))
	f.Add([]byte(`{"records":[{"partition_key":"k","data":[1,{"a":"b"}]},{"partition_key":"","data":null}]}`))
	f.Add([]byte(`{"records":null}`))
	used := []byte(`{"records":[{"partition_key":"p","explicit_hash_key":"9","data":{"long":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},` +
		`{"partition_key":"q","explicit_hash_key":"8","data":[1,2,3]},{"partition_key":"r","data":"s"}]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, _, err := decodePut(new(PutRequest), body)
		req := new(PutRequest)
		if _, _, err := decodePut(req, used); err != nil {
			t.Fatal(err)
		}
		again, _, errAgain := decodePut(req, body)
		if (err == nil) != (errAgain == nil) {
			t.Fatalf("a new request: %v; a used one: %v", err, errAgain)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, stream.ErrInvalidArgument) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(again) != len(entries) {
			t.Fatalf("a new request: %d entries; a used one: %d", len(entries), len(again))
		}
		for i, e := range entries {
			if !json.Valid(e.Data) {
				t.Fatalf("entry %d data %q is not valid JSON", i, e.Data)
			}
			a := again[i]
			if a.PartitionKey != e.PartitionKey || a.ExplicitHashKey != e.ExplicitHashKey || string(a.Data) != string(e.Data) {
				t.Fatalf("entry %d: a new request %+v; a used one %+v", i, e, a)
			}
		}
	})
}

// A change record of the native API says when the table's Time to Live
// made it, and only then.
func TestAPIChangeJSONExpired(t *testing.T) {
	c := &table.Change{Seq: 7, Event: table.EventRemove, Keys: item.Item{"order_id": item.StringValue("o1")}}
	b, err := json.Marshal(changeJSON(c))
	require.NoError(t, err)
	require.NotContains(t, string(b), "expired")
	c.Expired = true
	b, err = json.Marshal(changeJSON(c))
	require.NoError(t, err)
	require.Contains(t, string(b), `"expired":true`)
}
