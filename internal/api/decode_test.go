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
	entries, err := decodePut([]byte(`{"records":[{"partition_key":"k","data":{"a":[1,2,{"b":null}]}},{"partition_key":"k2","explicit_hash_key":"7","data":"s"}]}`))
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, `{"a":[1,2,{"b":null}]}`, string(entries[0].Data))
	require.Equal(t, "7", entries[1].ExplicitHashKey)
	for body, want := range map[string]error{
		`{"records":[{"partition_key":"k","data":}]}`: ErrMalformed,
		`[1,2]`:                               ErrMalformed,
		`{"records":[]}`:                      stream.ErrInvalidArgument,
		`{"records":[{"data":1}]}`:            nil, // the key is checked by the stream
		`{"records":[{"partition_key":"k"}]}`: stream.ErrInvalidArgument,
	} {
		_, err := decodePut([]byte(body))
		if want == nil {
			require.NoError(t, err, body)
			continue
		}
		require.ErrorIs(t, err, want, body)
	}
}

// FuzzAPIDecodePut: any body decodes to entries whose data is valid JSON,
// or to an error; never a panic.
func FuzzAPIDecodePut(f *testing.F) {
	f.Add([]byte(`{"records":[{"partition_key":"44600062","data":{"event_time":"2019-10-01 00:00:00 UTC","event_type":"view","product_id":44600062,"category_id":2103807459595387724,"price":35.79}}]}`))
	f.Add([]byte(`{"records":[{"partition_key":"k","explicit_hash_key":"1","data":"\u00e9"}]}`))
	f.Add([]byte(`{"records":[{"partition_key":"k","data":[1,{"a":"b"}]},{"partition_key":"","data":null}]}`))
	f.Add([]byte(`{"records":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := decodePut(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, stream.ErrInvalidArgument) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for i, e := range entries {
			if !json.Valid(e.Data) {
				t.Fatalf("entry %d data %q is not valid JSON", i, e.Data)
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
