package catalog_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
)

// latencies collects per-operation times and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	slices.Sort(l)
	if len(l) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Microseconds()) }
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// benchCatalog is a catalog on a fresh embedded engine with fsync on
// every write (the default), holding the clicks table of the REES46
// export.
func benchCatalog(b *testing.B) *catalog.Catalog {
	b.Helper()
	c, err := catalog.New(catalog.Config{}, catalog.Deps{Engine: enginetest.Start(b), Registerer: prometheus.NewRegistry()})
	require.NoError(b, err)
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	_, err = c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(b, err)
	y, err := os.ReadFile("testdata/definitions/clicks.good.yaml")
	require.NoError(b, err)
	docs, err := catalog.DecodeDocuments(y, "clicks.good.yaml")
	require.NoError(b, err)
	_, err = c.CreateTable(ctx, docs[1].Table)
	require.NoError(b, err)
	return c
}

// BenchmarkCatalogGetTable reads the latest version of a 9-column table.
func BenchmarkCatalogGetTable(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	var lat latencies
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := c.GetTable(ctx, "shop", "clicks"); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	lat.report(b)
}

// BenchmarkCatalogUpdateTable makes a new version per operation (a
// parameter changes): read the latest, keep it under its version key,
// compare-and-set the new latest; two fsynced writes.
func BenchmarkCatalogUpdateTable(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	var lat latencies
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		start := time.Now()
		_, changed, err := c.ModifyTable(ctx, "shop", "clicks", func(cur *catalog.Table) (*catalog.Table, error) {
			n := cur.Clone()
			n.Parameters = map[string]string{"n": strconv.Itoa(i)}
			return n, nil
		})
		if err != nil || !changed {
			b.Fatal(err, changed)
		}
		lat = append(lat, time.Since(start))
	}
	lat.report(b)
}

// BenchmarkCatalogUpdateSchema adds a nullable column, or drops it again,
// per operation, so each version is checked for BACKWARD compatibility.
func BenchmarkCatalogUpdateSchema(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	var lat latencies
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		start := time.Now()
		_, _, err := c.ModifyTable(ctx, "shop", "clicks", func(cur *catalog.Table) (*catalog.Table, error) {
			n := cur.Clone()
			cols := slices.Clone(cur.Schema.Columns())
			if i%2 == 1 {
				cols = append(cols, record.Column{Name: "extra", Type: record.TypeString, Nullable: true})
			} else {
				cols = cols[:len(cols)-1]
			}
			n.Schema = record.MustSchema(cols...)
			return n, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	lat.report(b)
}

// BenchmarkCatalogRawKV is the engine alone, side by side with the
// catalog's operations: a get and a put of a 1.2 KB value (a table
// definition's size) in a key-value bucket with the same settings.
func BenchmarkCatalogRawKV(b *testing.B) {
	e := enginetest.Start(b)
	ctx := context.Background()
	kv, err := e.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "raw", History: 1, Storage: jetstream.FileStorage})
	require.NoError(b, err)
	value := make([]byte, 1200)
	_, err = kv.Put(ctx, "k", value)
	require.NoError(b, err)
	b.Run("get", func(b *testing.B) {
		var lat latencies
		for b.Loop() {
			start := time.Now()
			if _, err := kv.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		lat.report(b)
	})
	b.Run("put", func(b *testing.B) {
		var lat latencies
		for b.Loop() {
			start := time.Now()
			if _, err := kv.Put(ctx, "k", value); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		lat.report(b)
	})
}

// BenchmarkCatalogStreamCheck checks one click record (decode + validate)
// as ingest does for a bound stream, and looks up an unbound stream (the
// cost of the hook when it is off).
func BenchmarkCatalogStreamCheck(b *testing.B) {
	c := benchCatalog(b)
	ctx := context.Background()
	require.NoError(b, c.Start(ctx))
	_, err := c.Bind(ctx, catalog.Binding{Stream: "clicks", Database: "shop", Table: "clicks", Policy: catalog.PolicyReject})
	require.NoError(b, err)
	data := []byte(`{"event_time":"2019-10-01 00:00:00 UTC","event_type":"view","product_id":44600062,"category_id":2103807459595387724,"category_code":null,"brand":"shiseido","price":35.79,"user_id":541312140,"user_session":"72d76fde-8bb3-4e00-8c23-a032dfed738c"}`)
	b.Run("bound", func(b *testing.B) {
		var r record.Record
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			sc := c.StreamCheck("clicks")
			if err := sc.Check(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unbound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c.StreamCheck("orders") != nil {
				b.Fatal("bound")
			}
		}
	})
}
