package avro_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	hamba "github.com/hamba/avro/v2"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
)

// clickSchema is the Avro writer schema of the Fast Sneakers click event.
const clickSchema = `{"type":"record","name":"click","namespace":"fastsneakers","fields":[
	{"name":"event_id","type":"string"},
	{"name":"event_type","type":{"type":"enum","name":"event_type","symbols":["view","click","add_to_cart","remove_from_cart","purchase"]}},
	{"name":"product_id","type":"string"},
	{"name":"user_id","type":"string"},
	{"name":"session_id","type":"string"},
	{"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"referrer","type":["null","string"],"default":null},
	{"name":"price","type":"double"},
	{"name":"quantity","type":"long"}]}`

const richSchema = `{"type":"record","name":"order","fields":[
	{"name":"order_id","type":"long"},
	{"name":"small","type":"int"},
	{"name":"ratio","type":"float"},
	{"name":"ok","type":"boolean"},
	{"name":"blob","type":"bytes"},
	{"name":"hash","type":{"type":"fixed","name":"md5","size":4}},
	{"name":"day","type":{"type":"int","logicalType":"date"}},
	{"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}},
	{"name":"total","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":2}},
	{"name":"neg","type":{"type":"fixed","name":"d8","size":8,"logicalType":"decimal","precision":18,"scale":3}},
	{"name":"items","type":{"type":"array","items":{"type":"record","name":"item","fields":[
		{"name":"product_id","type":"long"},{"name":"quantity","type":"int"}]}}},
	{"name":"attrs","type":{"type":"map","values":"string"}},
	{"name":"note","type":["null","string"],"default":null},
	{"name":"either","type":["long","string"]},
	{"name":"next","type":["null","order"],"default":null}]}`

func TestAvroSchemaToCatalog(t *testing.T) {
	c, err := avro.New(richSchema)
	require.NoError(t, err)
	require.Equal(t, `order_id long not null
small int not null
ratio double not null
ok boolean not null
blob binary not null
hash binary not null
day date not null
at timestamp not null
total decimal(20,2) not null
neg decimal(18,3) not null
items array<struct<product_id:long not null,quantity:int not null>> not null
attrs map<string,string> not null
note string
either choice<long,string> not null
next string
`, c.Schema().Describe())
}

func decodeJSON(t *testing.T, s string) *record.Record {
	t.Helper()
	var r record.Record
	require.NoError(t, record.NewJSONDecoder(record.JSONOptions{}).DecodeString(s, &r))
	return r.Clone()
}

func TestAvroRoundTrip(t *testing.T) {
	c, err := avro.New(richSchema)
	require.NoError(t, err)
	in := decodeJSON(t, `{"order_id":9007199254740993,"small":-7,"ratio":0.5,"ok":true,"blob":"AAEC","hash":"AQIDBA==",
		"day":"2019-10-01","at":"2019-10-01T00:00:00.123456Z","total":"-12345678901234567.89","neg":-1.5,
		"items":[{"product_id":1,"quantity":2},{"product_id":3,"quantity":4}],"attrs":{"color":"red"},
		"note":null,"either":"x","next":"{\"order_id\":2,\"small\":0,\"ratio\":0,\"ok\":false,\"blob\":\"\",\"hash\":\"AAAAAA==\",\"day\":\"1969-12-31\",\"at\":\"1969-12-31T23:59:59.999999Z\",\"total\":0,\"neg\":0,\"items\":[],\"attrs\":{},\"note\":\"n\",\"either\":5,\"next\":null}"}`)
	data, err := c.Append(nil, in)
	require.NoError(t, err)

	var out record.Record
	require.NoError(t, c.Decode(data, &out))
	want := `{"order_id":9007199254740993,"small":-7,"ratio":0.5,"ok":true,"blob":"AAEC","hash":"AQIDBA==","day":"2019-10-01",` +
		`"at":"2019-10-01T00:00:00.123456Z","total":-12345678901234567.89,"neg":-1.500,"items":[{"product_id":1,"quantity":2},` +
		`{"product_id":3,"quantity":4}],"attrs":{"color":"red"},"note":null,"either":"x","next":"{\"order_id\":2,\"small\":0,\"ratio\":0,` +
		`\"ok\":false,\"blob\":\"\",\"hash\":\"AAAAAA==\",\"day\":\"1969-12-31\",\"at\":\"1969-12-31T23:59:59.999999Z\",\"total\":0.00,\"neg\":0.000,` +
		`\"items\":[],\"attrs\":{},\"note\":\"n\",\"either\":5,\"next\":null}"}`
	require.Equal(t, want, out.String())
	require.NoError(t, c.Schema().Validate(&out))

	// hamba/avro reads what we write, and we read what it writes
	var generic map[string]any
	require.NoError(t, hamba.Unmarshal(hamba.MustParse(richSchema), data, &generic))
	require.Equal(t, int64(9007199254740993), generic["order_id"])
	again, err := hamba.Marshal(hamba.MustParse(richSchema), generic)
	require.NoError(t, err)
	require.NoError(t, c.Decode(again, &out))
	require.Equal(t, want, out.String())
}

func TestAvroEncodeErrors(t *testing.T) {
	c, err := avro.New(clickSchema)
	require.NoError(t, err)
	cases := []struct{ in, msg string }{
		{`{"event_id":"e","event_type":"nope","product_id":"p","user_id":"u","session_id":"s","event_time":"2019-10-01T00:00:00Z","price":1,"quantity":1}`, `field "event_type": "nope" is not a symbol`},
		{`{"event_type":"view","product_id":"p","user_id":"u","session_id":"s","event_time":"2019-10-01T00:00:00Z","price":1,"quantity":1}`, `field "event_id": null for a non-null type`},
		{`{"event_id":"e","event_type":"view","product_id":"p","user_id":"u","session_id":"s","event_time":"2019-10-01T00:00:00Z","price":"x","quantity":1}`, `field "price"`},
	}
	for _, tc := range cases {
		_, err := c.Append(nil, decodeJSON(t, tc.in))
		require.ErrorContains(t, err, tc.msg)
	}
}

func TestAvroDecodeErrors(t *testing.T) {
	c, err := avro.New(clickSchema)
	require.NoError(t, err)
	good, err := c.Append(nil, decodeJSON(t, clickEvent))
	require.NoError(t, err)
	var r record.Record
	require.NoError(t, c.Decode(good, &r))
	for cut := 0; cut < len(good); cut++ {
		err := c.Decode(good[:cut], &r)
		require.Error(t, err, "cut at %d", cut)
		var de *record.DecodeError
		require.ErrorAs(t, err, &de)
		require.NotEmpty(t, de.Field, "cut at %d: %v", cut, err)
	}
	require.ErrorContains(t, c.Decode(append(good, 0), &r), "1 bytes after the datum")
	bad := append([]byte{}, good...)
	bad[0] = 0xff // a string length varint that never ends
	require.Error(t, c.Decode(bad, &r))

	_, err = avro.New(`{"type":"record","name":"x","fields":[{"name":"a","type":"nope"}]}`)
	require.ErrorContains(t, err, "avro: schema")
}

const clickEvent = `{"event_id":"9f1c2a7e-4b3d-4c55-9a1e-2f6b8d0c3e71","event_type":"add_to_cart","product_id":"44600062","user_id":"541312140","session_id":"72d76fde-8bb3","event_time":"2019-10-01T00:00:00Z","referrer":"search","price":35.79,"quantity":2}`

func TestAvroFile(t *testing.T) {
	c, err := avro.New(clickSchema)
	require.NoError(t, err)
	for _, comp := range []string{"null", "deflate", "snappy", "zstandard"} {
		t.Run(comp, func(t *testing.T) {
			var buf bytes.Buffer
			fw, err := avro.NewFileWriter(&buf, c, comp)
			require.NoError(t, err)
			in := decodeJSON(t, clickEvent)
			for i := range 2500 {
				in.Set("quantity", record.LongValue(int64(i)))
				require.NoError(t, fw.Write(in))
			}
			require.NoError(t, fw.Close())

			fr, err := avro.NewFileReader(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			defer fr.Close()
			require.Equal(t, comp, string(fr.Metadata()["avro.codec"]))
			var r record.Record
			n := 0
			for {
				err := fr.Read(&r)
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				v, _ := r.Get("quantity")
				require.Equal(t, int64(n), v.Long())
				n++
			}
			require.Equal(t, 2500, n)

			// a cut file fails with a position, never panics
			cut := buf.Bytes()[:buf.Len()-20]
			fr, err = avro.NewFileReader(bytes.NewReader(cut))
			require.NoError(t, err)
			for {
				err := fr.Read(&r)
				if err != nil {
					require.NotErrorIs(t, err, io.EOF)
					require.True(t, strings.HasPrefix(err.Error(), "record: avro: "), err.Error())
					break
				}
			}
		})
	}
	_, err = avro.NewFileReader(strings.NewReader("nope"))
	require.ErrorContains(t, err, "bad magic")
}

func TestAvroSchemaJSON(t *testing.T) {
	s := record.MustSchema(
		record.Column{Name: "id", Type: record.TypeLong},
		record.Column{Name: "event_time", Type: record.TypeTime},
		record.Column{Name: "price", Type: record.MustParseType("decimal(10,2)"), Nullable: true},
		record.Column{Name: "tags", Type: record.MustParseType("array<string>"), Nullable: true},
		record.Column{Name: "billing", Type: record.MustParseType("struct<city:string,zip:string not null>")},
		record.Column{Name: "v", Type: record.MustParseType("choice<long,string>"), Nullable: true},
		record.Column{Name: "day", Type: record.TypeDate},
		record.Column{Name: "m", Type: record.MustParseType("map<string,double>")},
	)
	js, err := avro.SchemaJSON(s, "row")
	require.NoError(t, err)
	c, err := avro.New(js)
	require.NoError(t, err, js)
	require.Equal(t, `id long not null
event_time timestamp not null
price decimal(10,2)
tags array<string>
billing struct<city:string,zip:string not null> not null
v choice<long,string>
day date not null
m map<string,double> not null
`, c.Schema().Describe())
	_, err = avro.SchemaJSON(record.MustSchema(record.Column{Name: "m", Type: record.MustParseType("map<int,int>")}), "x")
	require.Error(t, err)
	_, err = avro.SchemaJSON(record.MustSchema(record.Column{Name: "event-time", Type: record.TypeTime}), "x")
	require.ErrorContains(t, err, "not a valid Avro name")
}
