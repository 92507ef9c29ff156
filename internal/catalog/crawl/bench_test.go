package crawl_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
	"github.com/pricestream/pricestream/internal/record/infer"
)

// reportRate reports records/s, ns/record and MB/s of a crawl loop.
func reportRate(b *testing.B, records, bytes int64) {
	secs := b.Elapsed().Seconds()
	n := float64(b.N)
	b.ReportMetric(float64(records)*n/secs, "records/s")
	b.ReportMetric(secs*1e9/(float64(records)*n), "ns/record")
	b.ReportMetric(float64(bytes)*n/secs/1e6, "MB/s")
}

// BenchmarkCrawlREES46 crawls the real REES46 export (1,000 rows, CSV):
// open, classify, read and infer every row.
func BenchmarkCrawlREES46(b *testing.B) {
	path := rees46Path(b)
	var res *crawl.Result
	b.ReportAllocs()
	for b.Loop() {
		var err error
		res, err = crawl.Files(context.Background(), []string{path}, crawl.Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, res.Records, res.Bytes)
}

// writeClicksJSON writes n click events as JSON lines, with the variety
// of a real clickstream (missing and null fields, several event types).
func writeClicksJSON(b *testing.B, path string, n int) int64 {
	b.Helper()
	f, err := os.Create(path)
	require.NoError(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	types := []string{"view", "click", "add_to_cart", "remove_from_cart", "purchase"}
	for i := range n {
		brand := `"brand":"aqua",`
		if i%7 == 0 {
			brand = `"brand":null,`
		}
		fmt.Fprintf(w, `{"event_id":"e%08d","event_type":"%s","product_id":%d,"category_id":%d,%s"price":%d.%02d,"user_id":%d,"session_id":"s%06d","event_time":"2019-10-01 %02d:%02d:%02d UTC","quantity":%d,"device":"ios"}`+"\n",
			i, types[i%len(types)], 1000000+i%50000, 2053013552326770905+int64(i%97), brand, 10+i%500, i%100, 500000000+i%200000, i%100000, (i/3600)%24, (i/60)%60, i%60, 1+i%3)
	}
	require.NoError(b, w.Flush())
	st, err := f.Stat()
	require.NoError(b, err)
	require.NoError(b, f.Close())
	return st.Size()
}

// BenchmarkCrawlJSON1M crawls a generated file of 1,000,000 JSON lines
// (about 270 MB): every record is read and inferred.
func BenchmarkCrawlJSON1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "clicks.jsonl")
	size := writeClicksJSON(b, path, 1_000_000)
	var res *crawl.Result
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var err error
		res, err = crawl.Files(context.Background(), []string{path}, crawl.Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	if res.Records != 1_000_000 || res.Bytes != size {
		b.Fatalf("crawled %d records of %d bytes", res.Records, res.Bytes)
	}
	reportRate(b, res.Records, res.Bytes)
}

// BenchmarkCrawlRecords infers a stream sample of 1,000 click records.
func BenchmarkCrawlRecords(b *testing.B) {
	path := filepath.Join(b.TempDir(), "clicks.jsonl")
	writeClicksJSON(b, path, 1000)
	data, err := os.ReadFile(path)
	require.NoError(b, err)
	var src sliceSource
	for line := range splitLines(data) {
		src.recs = append(src.recs, line)
	}
	var res *crawl.Result
	b.ReportAllocs()
	for b.Loop() {
		src.i = 0
		res, err = crawl.Records(context.Background(), &src, catalog.Location{Stream: "clicks"}, crawl.Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, res.Records, res.Bytes)
}

func splitLines(b []byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		start := 0
		for i, c := range b {
			if c == '\n' {
				if !yield(string(b[start:i])) {
					return
				}
				start = i + 1
			}
		}
	}
}

// BenchmarkCrawlREES46VsInfer runs the crawl of the REES46 file and the
// infer package's whole-file inference (infer.File: read the file into
// memory, classify, infer) alternately, so that both see the same load,
// and reports the ratio of their times: what the crawler's streaming read,
// progress and result add.
func BenchmarkCrawlREES46VsInfer(b *testing.B) {
	path := rees46Path(b)
	var crawlT, inferT time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := crawl.Files(context.Background(), []string{path}, crawl.Options{}); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := infer.File(path, infer.Options{MaxRecords: 1 << 30}); err != nil {
			b.Fatal(err)
		}
		crawlT += mid.Sub(start)
		inferT += time.Since(mid)
	}
	b.ReportMetric(float64(crawlT)/float64(inferT), "ratio")
	b.ReportMetric(float64(crawlT.Nanoseconds())/float64(b.N)/1000, "crawl-ns/record")
	b.ReportMetric(float64(inferT.Nanoseconds())/float64(b.N)/1000, "infer-ns/record")
}
