package grok_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/grok"
)

const accessLine = `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`

func TestGrokDecodeApache(t *testing.T) {
	c, err := grok.New(grok.Options{Pattern: "%{COMMONAPACHELOG}"})
	require.NoError(t, err)
	var r record.Record
	require.NoError(t, c.Decode([]byte(accessLine+"\n"), &r))
	got := map[string]string{}
	var names []string
	for name, v := range r.All() {
		got[name] = v.Str()
		names = append(names, name)
	}
	// the Elastic pattern set names fields as ECS does
	require.Equal(t, map[string]string{
		"source.address": "127.0.0.1", "user.name": "frank", "timestamp": "10/Oct/2000:13:55:36 -0700",
		"http.request.method": "GET", "url.original": "/apache_pb.gif", "http.version": "1.0",
		"http.response.status_code": "200", "http.response.body.size": "2326",
	}, got)
	require.Equal(t, []string{"source.address", "user.name", "timestamp", "http.request.method", "url.original",
		"http.version", "http.response.status_code", "http.response.body.size"}, names, "fields in the pattern's order")

	err = c.Decode([]byte("not an access log line"), &r)
	var de *record.DecodeError
	require.ErrorAs(t, err, &de)
	require.Contains(t, err.Error(), "record: grok: the line does not match the pattern")
}

func TestGrokCustomAndTyped(t *testing.T) {
	s := record.MustSchema(
		record.Column{Name: "time", Type: record.MustParseType("timestamp('yyyy-MM-dd HH:mm:ss')")},
		record.Column{Name: "level", Type: record.TypeString},
		record.Column{Name: "product_id", Type: record.TypeLong},
	)
	c, err := grok.New(grok.Options{
		Pattern:        "%{SHOPTIME:time} %{LOGLEVEL:level} product=%{NUMBER:product_id} %{GREEDYDATA:message}",
		CustomPatterns: map[string]string{"SHOPTIME": `\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}`},
		Schema:         s,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"time", "level", "product_id", "message"}, c.Fields())
	var r record.Record
	require.NoError(t, c.Decode([]byte("2019-10-01 00:00:01 WARN product=44600062 price went up"), &r))
	v, _ := r.Get("time")
	require.Equal(t, int64(1569888001), v.Time().Unix())
	v, _ = r.Get("product_id")
	require.Equal(t, int64(44600062), v.Long())
	v, _ = r.Get("message")
	require.Equal(t, "price went up", v.Str())
	require.NoError(t, record.NewValidator(s, record.ValidateOptions{AllowExtra: true}).Validate(&r), "message is not a column")
}

func TestGrokBadPatterns(t *testing.T) {
	for _, c := range []struct{ pattern, err string }{
		{"", "empty pattern"},
		{"%{NOSUCHPATTERN:x}", `pattern definition "NOSUCHPATTERN" unknown`},
		{"%{WORD}", "names no field"},
		{"%{WORD:a} (", "missing closing )"},
	} {
		_, err := grok.New(grok.Options{Pattern: c.pattern})
		require.ErrorContains(t, err, c.err, c.pattern)
	}
	_, err := grok.New(grok.Options{Pattern: "%{X:a}", CustomPatterns: map[string]string{"bad name": "x"}})
	require.ErrorContains(t, err, `custom pattern name "bad name"`)
}
