package table_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/cputime"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Benchmarks of what the Fast Sneakers pipeline does to a table per event:
// the ETL sink's unconditional Put of a pricing_features row (25
// attributes, numbers and a few strings) over the row it replaces, and the
// trigger's read of the changes that makes. The engine fsyncs on an
// interval, so that the figures are CPU, not disk: cpu-µs/op is the
// process's CPU time (user and system, both cores: engine and table) per
// operation.
//
//	go test -run '^$' -bench 'TableRow' -count 6 -benchmem ./internal/table/

// rowJSON is a pricing_features row of 25 attributes; %d varies its
// counters.
const rowJSON = `{"product_id":"p-000123","window_start":1569888000000,"window_end":1569888100000,` +
	`"views":%d,"clicks":17,"add_to_carts":4,"remove_from_carts":1,"purchases":2,"revenue":259.98,` +
	`"users":%d,"price":119.99,"base_price":129.99,"inventory":420,"sales_units_1h":12,` +
	`"sales_revenue_1h":1439.88,"views_5m":%d,"views_1h":1532,"first_event_time":"2019-10-01T00:00:00Z",` +
	`"last_event_time":"2019-10-01T00:01:12.345Z","conversion":0.0342,"trend":1.27,"price_ratio":0.92309,` +
	`"rate_now":0.83,"source_position":"clicks/3/%d","ingest_time":1569888072345}`

func rowItem(b *testing.B, i int) item.Item {
	r := it(b, fmt.Sprintf(rowJSON, 100+i, 40+i/3, 10+i/2, 1000+i))
	if len(r) != 25 {
		b.Fatalf("row has %d attributes", len(r))
	}
	return r
}

var rowKey = item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}

func intervalEngine(b *testing.B) *engine.Engine {
	return enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
}

// cpuTime returns the process's CPU time so far.
var cpuTime = cputime.Process

type cpuMeter struct {
	t0 time.Duration
	n  int
}

func startCPU() cpuMeter { return cpuMeter{t0: cpuTime()} }

func (c cpuMeter) report(b *testing.B, ops int) {
	if ops > 0 {
		b.ReportMetric(float64(cpuTime()-c.t0)/1e3/float64(ops), "cpu-µs/op")
	}
}

// BenchmarkTableRowPut puts a pricing_features row over the existing one:
// changed (its counters move, as per event) or the same (a write that
// changes nothing, which stores nothing).
func BenchmarkTableRowPut(b *testing.B) {
	for _, mode := range []string{"changed", "same"} {
		b.Run(mode, func(b *testing.B) {
			e := intervalEngine(b)
			tb := createTable(b, newManager(b, e), "features", rowKey, table.ViewNewImage)
			ctx := context.Background()
			rows := make([]item.Item, 64)
			for i := range rows {
				rows[i] = rowItem(b, i)
			}
			if _, err := tb.Put(ctx, rows[0], table.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			i := 0
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				r := rows[0]
				if mode == "changed" {
					r = rows[(i+1)%len(rows)]
				}
				res, err := tb.Put(ctx, r, table.WriteOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Written != (mode == "changed") {
					b.Fatalf("put %d: written %t", i, res.Written)
				}
				i++
			}
			cpu.report(b, i)
		})
	}
}

// BenchmarkTableRowChanges reads changes of pricing_features rows (of 100
// items): a subscription (the trigger's reader) and ReadChanges (the
// DynamoDB Streams API's). One op is one change; the changes are written
// before the timer starts (so it counts b.N, not b.Loop).
func BenchmarkTableRowChanges(b *testing.B) {
	for _, view := range []table.ViewType{table.ViewNewImage, table.ViewNewAndOldImgs} {
		for _, read := range []string{"subscription", "ReadChanges"} {
			b.Run(fmt.Sprintf("view=%s/read=%s", view, read), func(b *testing.B) {
				e := intervalEngine(b)
				tb := createTable(b, newManager(b, e), "features", rowKey, view)
				ctx := context.Background()
				rows := make([]item.Item, 64)
				for i := range rows {
					rows[i] = rowItem(b, i)
				}
				for i := range b.N {
					r := rows[i%len(rows)].Clone()
					r["product_id"] = item.StringValue(fmt.Sprintf("p-%06d", i%100))
					if _, err := tb.Put(ctx, r, table.WriteOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				check := func(c *table.Change) {
					if len(c.New) != 25 || (view == table.ViewNewAndOldImgs && c.Event == table.EventModify && len(c.Old) != 25) {
						b.Fatalf("change %d: %v", c.Seq, c.New)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := startCPU()
				if read == "subscription" {
					sub, err := tb.Subscribe(ctx, table.Position{Kind: table.TrimHorizon})
					if err != nil {
						b.Fatal(err)
					}
					defer sub.Stop()
					for got := 0; got < b.N; {
						cs, err := sub.NextBatch(ctx, 500)
						if err != nil {
							b.Fatal(err)
						}
						for _, c := range cs {
							check(c)
						}
						got += len(cs)
					}
				} else {
					for from, got := uint64(1), 0; got < b.N; {
						cs, next, err := tb.ReadChanges(ctx, from, 1000)
						if err != nil {
							b.Fatal(err)
						}
						for _, c := range cs {
							check(c)
						}
						got, from = got+len(cs), next
					}
				}
				b.StopTimer()
				cpu.report(b, b.N)
			})
		}
	}
}

// BenchmarkTableRowSinkWrites writes pricing_features rows as the ETL
// job's table sink does (PutEncoded, unchecked and unsynced, many writers
// at once, each row replacing its product's last) over 10,000 products,
// with the table keeping every version or each product's newest: the
// whole process's CPU per row (engine, client, index) is what one features
// row costs the pipeline. The engine fsyncs always (the sink's rows are
// synced at its checkpoints, not here). ctx=own writes with a cancelable
// context without a deadline, for which the table makes one per write; ctx=writer
// with a context whose deadline is the write timeout away, as the sink's
// writers give theirs (one per writer, renewed every half timeout).
// writes=batched is a table of batched writes (history all), whose
// writers' rows share engine messages.
//
//	go test -run '^$' -bench TableRowSinkWrites -benchtime 60000x -count 4 ./internal/table/
func BenchmarkTableRowSinkWrites(b *testing.B) {
	const products = 10000
	for _, mode := range []string{"history=all", "history=latest", "writes=batched"} {
		spec := table.Spec{Name: "features", Key: rowKey, StreamView: table.ViewNewImage}
		switch mode {
		case "history=latest":
			spec.ChangeHistory = table.HistoryLatest
		case "writes=batched":
			spec.Writes = table.WritesBatched
		}
		for _, writers := range []int{16, 128} {
			for _, ctxKind := range []string{"own", "writer"} {
				b.Run(fmt.Sprintf("%s/writers=%d/ctx=%s", mode, writers, ctxKind), func(b *testing.B) {
					m := newManager(b, enginetest.Start(b))
					// Cancelable, as a job's context is: a context made per
					// write registers with it.
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					if _, err := m.Create(ctx, spec); err != nil {
						b.Fatal(err)
					}
					tb, err := m.Open(ctx, "features")
					if err != nil {
						b.Fatal(err)
					}
					// Two rows per product, written in turn, so that every
					// write changes its item.
					rows := make([][]byte, 2*products)
					for i := range rows {
						r := rowItem(b, i%64+i/products)
						r["product_id"] = item.StringValue(fmt.Sprintf("p-%06d", i%products))
						if rows[i], err = r.AppendBinary(nil); err != nil {
							b.Fatal(err)
						}
					}
					write := func(total int64) {
						var next atomic.Int64
						var wg sync.WaitGroup
						for range writers {
							wg.Go(func() {
								ctx := ctx
								if ctxKind == "writer" {
									var cancel context.CancelFunc
									ctx, cancel = context.WithTimeout(ctx, tb.WriteTimeout())
									defer cancel()
								}
								for i := next.Add(1) - 1; i < total; i = next.Add(1) - 1 {
									res, err := tb.PutEncoded(ctx, rows[i%int64(len(rows))], table.WriteOptions{NoSync: true, Unchecked: true})
									if err != nil || !res.Written {
										b.Errorf("write %d: %v (written: %t)", i, err, err == nil && res.Written)
										return
									}
								}
							})
						}
						wg.Wait()
					}
					write(int64(len(rows))) // every product has its row
					b.ResetTimer()
					cpu := startCPU()
					start := time.Now()
					write(int64(b.N))
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
					cpu.report(b, b.N)
				})
			}
		}
	}
}

// BenchmarkTableRowBatchBaseline is BenchmarkTableRowSinkWrites's
// baseline: the same rows' bytes stored as stream record batches (one
// engine message of many records, four batches in flight, acknowledged
// when stored, the engine fsyncing always as there), the whole process's
// CPU per row. It is what a table storing the rows of many keys in one
// engine message could cost per row, against one message per row
// (batch=1) in the same run:
//
//	go test -run '^$' -bench 'TableRowSinkWrites/history=latest/writers=128/ctx=writer|TableRowBatchBaseline' -benchtime 60000x -count 4 ./internal/table/
func BenchmarkTableRowBatchBaseline(b *testing.B) {
	const products = 10000
	for _, size := range []int{1, 25, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			e := enginetest.Start(b)
			m, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			if _, err := m.Create(ctx, stream.Spec{Name: "features", Partitions: 1}); err != nil {
				b.Fatal(err)
			}
			s, err := m.Open(ctx, "features")
			if err != nil {
				b.Fatal(err)
			}
			rows := make([]stream.Entry, products)
			for i := range rows {
				r := rowItem(b, i%64)
				r["product_id"] = item.StringValue(fmt.Sprintf("p-%06d", i))
				data, err := r.AppendBinary(nil)
				if err != nil {
					b.Fatal(err)
				}
				rows[i] = stream.Entry{PartitionKey: fmt.Sprintf("p-%06d", i), Data: data}
			}
			const inFlight = 4
			write := func(total int) {
				var pending []*stream.Appending
				for n := 0; n < total; n += size {
					from := n % products
					a, err := s.SubmitNoSync(rows[from:min(from+size, products)])
					if err != nil {
						b.Fatal(err)
					}
					if pending = append(pending, a); len(pending) == inFlight {
						if _, err := pending[0].Wait(ctx); err != nil {
							b.Fatal(err)
						}
						pending = pending[1:]
					}
				}
				for _, a := range pending {
					if _, err := a.Wait(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			write(products)
			b.ResetTimer()
			cpu := startCPU()
			start := time.Now()
			write(b.N)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
			cpu.report(b, b.N)
		})
	}
}
