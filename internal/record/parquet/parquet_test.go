package parquet_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

var orderSchema = record.MustSchema(
	record.Column{Name: "order_id", Type: record.TypeLong},
	record.Column{Name: "small", Type: record.TypeInt, Nullable: true},
	record.Column{Name: "ok", Type: record.TypeBool},
	record.Column{Name: "price", Type: record.TypeDouble, Nullable: true},
	record.Column{Name: "name", Type: record.TypeString, Nullable: true},
	record.Column{Name: "blob", Type: record.TypeBinary, Nullable: true},
	record.Column{Name: "day", Type: record.TypeDate, Nullable: true},
	record.Column{Name: "at", Type: record.TypeTime, Nullable: true},
	record.Column{Name: "d9", Type: record.MustParseType("decimal(9,2)"), Nullable: true},
	record.Column{Name: "d18", Type: record.MustParseType("decimal(18,3)"), Nullable: true},
	record.Column{Name: "d38", Type: record.MustParseType("decimal(38,2)"), Nullable: true},
	record.Column{Name: "items", Type: record.MustParseType("array<struct<product_id:long not null,qty:int>>"), Nullable: true},
	record.Column{Name: "tags", Type: record.MustParseType("array<array<string>>"), Nullable: true},
	record.Column{Name: "attrs", Type: record.MustParseType("map<string,long>"), Nullable: true},
	record.Column{Name: "billing", Type: record.MustParseType("struct<city:string,geo:struct<lat:double,lon:double>>"), Nullable: true},
)

var orderRows = []string{
	`{"order_id":2103807459595387724,"small":-7,"ok":true,"price":35.79,"name":"héllo","blob":"AAEC","day":"2019-10-01",` +
		`"at":"2019-10-01T00:00:00.123456Z","d9":"-1234567.89","d18":"123456789012345.678","d38":"-123456789012345678901234567890123456.78",` +
		`"items":[{"product_id":1,"qty":2},{"product_id":3,"qty":null}],"tags":[["a","b"],[],["c"]],"attrs":{"x":1,"y":null},` +
		`"billing":{"city":"Oslo","geo":{"lat":59.9,"lon":10.7}}}`,
	`{"order_id":1,"small":null,"ok":false,"price":null,"name":null,"blob":null,"day":null,"at":null,"d9":null,"d18":null,"d38":null,` +
		`"items":null,"tags":null,"attrs":null,"billing":null}`,
	`{"order_id":2,"small":0,"ok":false,"price":0,"name":"","blob":"","day":"1969-12-31","at":"1969-12-31T23:59:59.999999Z",` +
		`"d9":0,"d18":0,"d38":0,"items":[],"tags":[[],[null]],"attrs":{},"billing":{"city":null,"geo":null}}`,
}

func TestParquetRoundTrip(t *testing.T) {
	dec := record.NewJSONDecoder(record.JSONOptions{Schema: orderSchema})
	var buf bytes.Buffer
	w, err := parquet.NewWriter(&buf, orderSchema)
	require.NoError(t, err)
	var want []string
	for _, js := range orderRows {
		var r record.Record
		require.NoError(t, dec.DecodeString(js, &r), js)
		require.NoError(t, w.Write(&r))
		want = append(want, r.String())
	}
	require.NoError(t, w.Close())

	rd, err := parquet.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	defer rd.Close()
	require.Equal(t, int64(3), rd.NumRows())
	require.Equal(t, orderSchema.Describe(), rd.Schema().Describe(), "column order and types survive")
	var got []string
	var r record.Record
	for {
		err := rd.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		require.NoError(t, orderSchema.Validate(&r))
		got = append(got, r.String())
	}
	require.Equal(t, want, got)
}

// TestParquetReadsOtherWriters reads a file that parquet-go writes from Go
// structs (its own nesting conventions, optional pointers, repeated fields).
func TestParquetReadsOtherWriters(t *testing.T) {
	type item struct {
		ProductID int64   `parquet:"product_id"`
		Note      *string `parquet:"note,optional"`
	}
	type row struct {
		ID    int64            `parquet:"id"`
		Tags  []string         `parquet:"tags"` // a bare repeated field
		Items []item           `parquet:"items,list"`
		Attrs map[string]int32 `parquet:"attrs"`
		Score *float32         `parquet:"score,optional"`
	}
	note := "n"
	score := float32(1.5)
	var buf bytes.Buffer
	w := pq.NewGenericWriter[row](&buf)
	_, err := w.Write([]row{
		{ID: 1, Tags: []string{"a", "b"}, Items: []item{{ProductID: 7, Note: &note}, {ProductID: 8}}, Attrs: map[string]int32{"k": 3}, Score: &score},
		{ID: 2},
	})
	require.NoError(t, err)
	require.NoError(t, w.Close())

	rd, err := parquet.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, "id long not null\ntags array<string> not null\nitems array<struct<product_id:long not null,note:string>> not null\n"+
		"attrs map<string,int> not null\nscore double\n", rd.Schema().Describe())
	var r record.Record
	require.NoError(t, rd.Read(&r))
	require.Equal(t, `{"id":1,"tags":["a","b"],"items":[{"product_id":7,"note":"n"},{"product_id":8,"note":null}],"attrs":{"k":3},"score":1.5}`, r.String())
	require.NoError(t, rd.Read(&r))
	require.Equal(t, `{"id":2,"tags":[],"items":[],"attrs":{},"score":null}`, r.String())
	require.ErrorIs(t, rd.Read(&r), io.EOF)
}

func TestParquetWriteErrors(t *testing.T) {
	_, err := parquet.NewWriter(io.Discard, record.MustSchema(record.Column{Name: "c", Type: record.MustParseType("choice<long,string>")}))
	require.ErrorContains(t, err, `column "c"`)
	w, err := parquet.NewWriter(io.Discard, record.MustSchema(record.Column{Name: "id", Type: record.TypeLong}))
	require.NoError(t, err)
	r := record.New(1)
	require.ErrorContains(t, w.Write(r), `field "id": null for a required field`)
	r.Append("id", record.StringValue("x"))
	require.ErrorContains(t, w.Write(r), `field "id"`)
}

func TestParquetCorrupt(t *testing.T) {
	var buf bytes.Buffer
	w, err := parquet.NewWriter(&buf, orderSchema)
	require.NoError(t, err)
	dec := record.NewJSONDecoder(record.JSONOptions{Schema: orderSchema})
	var r record.Record
	require.NoError(t, dec.DecodeString(orderRows[0], &r))
	require.NoError(t, w.Write(&r))
	require.NoError(t, w.Close())
	good := buf.Bytes()
	for _, bad := range [][]byte{nil, []byte("PAR1"), []byte("PAR1garbagePAR1"), good[:len(good)/2], append(append([]byte{}, good[:40]...), bytes.Repeat([]byte{0xff}, len(good)-40)...)} {
		rd, err := parquet.NewReader(bytes.NewReader(bad), int64(len(bad)))
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "record: parquet: "), err.Error())
			continue
		}
		for {
			if err := rd.Read(&r); err != nil {
				break
			}
		}
	}
}
