package crawl_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
)

// shopLog returns n log lines of the shop's price service.
func shopLog(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "2019-10-01 00:00:%02d INFO product=%d price=%d.%02d changed by pricing\n", i%60, 44600062+i, 30+i, i%100)
	}
	return b.String()
}

const shopPattern = `%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} product=%{NUMBER:product_id} price=%{NUMBER:price} %{GREEDYDATA:message}`

func TestCrawlGrokFiles(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "price.log", shopLog(50)+"garbage line\n")
	res, err := crawl.Files(context.Background(), []string{path}, crawl.Options{GrokPattern: shopPattern})
	require.NoError(t, err)
	require.Equal(t, "grok", res.Classification.Format)
	require.InDelta(t, 50.0/51, res.Classification.Certainty, 1e-9, "the pattern matches 50 of 51 lines")
	require.Equal(t, catalog.FormatGrok, res.Format.Type)
	require.Equal(t, shopPattern, res.Format.GrokPattern)
	require.Equal(t, int64(50), res.Records)
	require.Equal(t, int64(1), res.Errors)
	require.Contains(t, res.FirstError, "line 51")
	require.Equal(t, `time timestamp('yyyy-MM-dd HH:mm:ss') not null
level string not null
product_id long not null
price double not null
message string not null
`, res.Schema.Describe())

	// the definition a crawl makes is valid and decodes the lines
	tbl, err := crawl.Plan(nil, "shop", "price_log", res, crawl.Policy{})
	require.NoError(t, err)
	require.NoError(t, tbl.Validate())
	dec, err := tbl.Decoder()
	require.NoError(t, err)
	r := recordOf(t, dec, "2019-10-01 00:00:07 WARN product=1 price=2.5 up")
	v, _ := r.Get("price")
	require.Equal(t, 2.5, v.Double())

	// a JSON file: the built-in classifier is surer than the pattern
	js := writeFile(t, dir, "x.jsonl", `{"a": 1}`+"\n")
	res, err = crawl.Files(context.Background(), []string{js}, crawl.Options{GrokPattern: shopPattern})
	require.NoError(t, err)
	require.Equal(t, catalog.FormatJSON, res.Format.Type)

	_, err = crawl.Files(context.Background(), []string{path}, crawl.Options{Format: catalog.FormatGrok})
	require.ErrorContains(t, err, "grok: empty pattern")
}

func TestCrawlGrokRecords(t *testing.T) {
	src := &sliceSource{recs: strings.Split(strings.TrimSpace(shopLog(20)), "\n")}
	res, err := crawl.Records(context.Background(), src, catalog.Location{Stream: "logs"}, crawl.Options{GrokPattern: shopPattern})
	require.NoError(t, err)
	require.Equal(t, "grok", res.Classification.Format)
	require.Equal(t, 1.0, res.Classification.Certainty)
	require.Equal(t, int64(20), res.Records)
	require.Equal(t, 5, res.Schema.Len())
}
