package trigger_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

// The latency benchmarks send one record at a time and wait for it to
// arrive: at the function (a trigger with a Go or an HTTP function), or at
// an ordered consumer (the raw JetStream path beside them, in the same
// run). Each iteration is one round trip: from just before the write to
// the call, so the write itself (and its fsync) is included. They report
// p50, p99 and p99.9 in µs.
//
//	go test -run '^$' -bench 'BenchmarkTrigger' -benchtime 2000x ./internal/trigger/

func fsyncs() []struct {
	name string
	p    engine.FsyncPolicy
} {
	return []struct {
		name string
		p    engine.FsyncPolicy
	}{{"fsync=always", engine.FsyncAlways}, {"fsync=interval", engine.FsyncPolicy{Interval: time.Second}}}
}

func BenchmarkTriggerLatency(b *testing.B) {
	for _, fs := range fsyncs() {
		b.Run(fs.name+"/raw-jetstream", func(b *testing.B) { benchRaw(b, fs.p) })
		b.Run(fs.name+"/go", func(b *testing.B) { benchFunction(b, fs.p, "go") })
		b.Run(fs.name+"/http", func(b *testing.B) { benchFunction(b, fs.p, "http") })
		b.Run(fs.name+"/table-go", func(b *testing.B) { benchTable(b, fs.p) })
	}
}

// benchTable: a table item put (a change committed) to a Go function
// being called with the change.
func benchTable(b *testing.B, p engine.FsyncPolicy) {
	e := newEnvOn(b, enginetest.Start(b, enginetest.WithFsync(p)), trigger.Config{})
	ctx := context.Background()
	_, err := e.tables.Create(ctx, table.Spec{Name: "features", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}, StreamView: table.ViewNewImage})
	require.NoError(b, err)
	tb, err := e.tables.Open(ctx, "features")
	require.NoError(b, err)
	got := make(chan time.Time, 1)
	require.NoError(b, e.fns.Register("bench", trigger.FunctionOf(func(_ context.Context, bt *trigger.Batch) (trigger.Response, error) {
		got <- time.Now()
		return trigger.Response{}, nil
	})))
	e.apply("name: bench\nsource: table:features\nfunction: go:bench\nstarting_position: latest\n")
	waitRunning(b, e, "bench")
	acked, rt := make([]time.Duration, 0, 4096), make([]time.Duration, 0, 4096)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		it := item.Item{"product_id": item.StringValue(fmt.Sprint("p", i%100)), "price": item.IntValue(int64(i)), "views": item.IntValue(3)}
		t0 := time.Now()
		_, err := tb.Put(ctx, it, table.WriteOptions{})
		require.NoError(b, err)
		t1 := time.Now()
		tc := <-got
		acked, rt = append(acked, max(0, tc.Sub(t1))), append(rt, tc.Sub(t0))
	}
	reportLatency(b, acked, rt)
}

// reportLatency reports two distributions: from the write's
// acknowledgement (the record is committed) to the call, as p50-µs,
// p99-µs and p99.9-µs (0 when the call came first: consumers see a
// message as soon as it is stored, before the writer has its ack); and
// from just before the write to the call (round trip, rt-*).
func reportLatency(b *testing.B, acked, rt []time.Duration) {
	if len(rt) == 0 {
		return
	}
	reportQuantiles(b, acked)
	slices.Sort(rt)
	b.ReportMetric(quantileMicros(rt, 0.5), "rt-p50-µs")
	b.ReportMetric(quantileMicros(rt, 0.99), "rt-p99-µs")
}

// reportQuantiles sorts lat and reports its p50, p99 and p99.9 in µs.
func reportQuantiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(quantileMicros(lat, 0.5), "p50-µs")
	b.ReportMetric(quantileMicros(lat, 0.99), "p99-µs")
	b.ReportMetric(quantileMicros(lat, 0.999), "p99.9-µs")
}

// quantileMicros returns the p quantile of sorted lat in µs.
func quantileMicros(lat []time.Duration, p float64) float64 {
	return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
}

// sendPaced sends 0..n-1 to work at a steady rate per second, then closes
// it.
func sendPaced(rate, n int, work chan<- int) {
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			<-time.After(d)
		}
		work <- i
	}
	close(work)
}

// benchRaw: a JetStream publish, acknowledged, to an ordered consumer's
// receive (on its own connection, as streams read).
func benchRaw(b *testing.B, p engine.FsyncPolicy) {
	eng := enginetest.Start(b, enginetest.WithFsync(p))
	ctx := context.Background()
	js := eng.JetStream()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "raw", Subjects: []string{"raw.x"}, Storage: jetstream.FileStorage})
	require.NoError(b, err)
	rc, err := eng.Connect("bench-reader")
	require.NoError(b, err)
	rjs, err := jetstream.New(rc)
	require.NoError(b, err)
	cons, err := rjs.OrderedConsumer(ctx, "raw", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"raw.x"}})
	require.NoError(b, err)
	got := make(chan time.Time, 1)
	cc, err := cons.Consume(func(jetstream.Msg) { got <- time.Now() })
	require.NoError(b, err)
	defer cc.Stop()
	data := make([]byte, 200)
	acked, rt := make([]time.Duration, 0, 4096), make([]time.Duration, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		_, err := js.Publish(ctx, "raw.x", data)
		require.NoError(b, err)
		t1 := time.Now()
		tc := <-got
		acked, rt = append(acked, max(0, tc.Sub(t1))), append(rt, tc.Sub(t0))
	}
	reportLatency(b, acked, rt)
}

// benchFunction: stream.Append of one record to the trigger's function
// being called with it.
func benchFunction(b *testing.B, p engine.FsyncPolicy, kind string) {
	e := newEnvOn(b, enginetest.Start(b, enginetest.WithFsync(p)), trigger.Config{})
	s := e.createStream("bench", 1)
	got := make(chan time.Time, 1)
	var fn string
	switch kind {
	case "go":
		require.NoError(b, e.fns.Register("bench", trigger.FunctionOf(func(_ context.Context, bt *trigger.Batch) (trigger.Response, error) {
			got <- time.Now()
			return trigger.Response{}, nil
		})))
		fn = "go:bench"
	case "http":
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- time.Now()
		}))
		defer srv.Close()
		fn = srv.URL
	}
	e.apply(fmt.Sprintf("name: bench\nsource: stream:bench\nfunction: %s\nstarting_position: latest\n", fn))
	waitRunning(b, e, "bench")
	data := make([]byte, 200)
	copy(data, `{"product_id":"p1","price":10}`)
	for i := 30; i < len(data); i++ {
		data[i] = ' '
	}
	entry := []stream.Entry{{PartitionKey: "p1", Data: data}}
	acked, rt := make([]time.Duration, 0, 4096), make([]time.Duration, 0, 4096)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		res, err := s.Append(ctx, entry)
		require.NoError(b, err)
		require.NoError(b, res[0].Err)
		t1 := time.Now()
		tc := <-got
		acked, rt = append(acked, max(0, tc.Sub(t1))), append(rt, tc.Sub(t0))
	}
	reportLatency(b, acked, rt)
}

func waitRunning(t testing.TB, e *env, name string) {
	t.Helper()
	waitFor(t, 30*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), name)
		if err != nil {
			return err
		}
		if len(st.Partitions) == 0 {
			return fmt.Errorf("no partitions yet (trigger %s: %s)", st.State, st.Error)
		}
		for _, p := range st.Partitions {
			if p.State != "running" {
				return fmt.Errorf("partition %d is %s (trigger %s: %s)", p.Partition, p.State, st.State, st.Error)
			}
		}
		return nil
	})
}

// BenchmarkTriggerThroughput appends b.N records (500 per append, as
// Kinesis PutRecords, from 4 writers) to a 4-partition stream and reports
// the records and invocations per second a Go function receives.
func BenchmarkTriggerThroughput(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			e := newEnvOn(b, enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: time.Second})), trigger.Config{})
			s := e.createStream("bench", 4)
			var records, calls atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			require.NoError(b, e.fns.Register("count", trigger.FunctionOf(func(_ context.Context, bt *trigger.Batch) (trigger.Response, error) {
				calls.Add(1)
				if records.Add(int64(len(bt.Records))) == target {
					close(done)
				}
				return trigger.Response{}, nil
			})))
			e.apply(fmt.Sprintf("name: bench\nsource: stream:bench\nfunction: go:count\nbatch_size: %d\n", batch))
			waitRunning(b, e, "bench")
			entries := make([]stream.Entry, 500)
			for i := range entries {
				entries[i] = stream.Entry{PartitionKey: fmt.Sprint("p", i), Data: []byte(`{"product_id":"p1","event_type":"view","price":10}`)}
			}
			b.ResetTimer()
			start := time.Now()
			errs := make(chan error, 4)
			for w := range 4 {
				go func() {
					n := int(target)/4 + map[bool]int{true: int(target) % 4}[w == 0]
					for n > 0 {
						k := min(n, len(entries))
						if _, err := s.Append(context.Background(), entries[:k]); err != nil {
							errs <- err
							return
						}
						n -= k
					}
					errs <- nil
				}()
			}
			for range 4 {
				require.NoError(b, <-errs)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("received %d of %d records", records.Load(), target)
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(records.Load())/el, "records/s")
			b.ReportMetric(float64(calls.Load())/el, "invocations/s")
		})
	}
}

// BenchmarkTriggerSteady writes single-record appends at a steady rate
// (from 16 writers, paced) to a 4-partition stream and measures, per
// record, its arrival (when ingest accepted it, before the write) to the
// Go function's call: p50, p99, p99.9 in µs. b.N records per run.
//
//	go test -run '^$' -bench 'BenchmarkTriggerSteady' -benchtime 20000x ./internal/trigger/
func BenchmarkTriggerSteady(b *testing.B) {
	for _, fs := range fsyncs() {
		for _, rate := range []int{1000, 10000} {
			for _, via := range []string{"subscribe", "trigger"} {
				b.Run(fmt.Sprintf("%s/rate=%d/%s", fs.name, rate, via), func(b *testing.B) {
					e := newEnvOn(b, enginetest.Start(b, enginetest.WithFsync(fs.p)), trigger.Config{})
					s := e.createStream("bench", 4)
					lat := make([]time.Duration, 0, b.N)
					var mu sync.Mutex
					var n atomic.Int64
					done := make(chan struct{})
					target := int64(b.N)
					observe := func(now time.Time, arrivals []time.Time) {
						mu.Lock()
						for _, a := range arrivals {
							lat = append(lat, now.Sub(a))
						}
						mu.Unlock()
						if n.Add(int64(len(arrivals))) == target {
							close(done)
						}
					}
					var subs sync.WaitGroup
					sctx, scancel := context.WithCancel(context.Background())
					defer func() { scancel(); subs.Wait() }()
					if via == "trigger" {
						require.NoError(b, e.fns.Register("lat", trigger.FunctionOf(func(_ context.Context, bt *trigger.Batch) (trigger.Response, error) {
							now := time.Now()
							arr := make([]time.Time, len(bt.Records))
							for i, r := range bt.Records {
								arr[i] = r.Arrival
							}
							observe(now, arr)
							return trigger.Response{}, nil
						})))
						e.apply("name: bench\nsource: stream:bench\nfunction: go:lat\nstarting_position: latest\n")
						waitRunning(b, e, "bench")
					} else {
						// The stream layer's own push delivery, without the trigger.
						for p := range s.Partitions() {
							tip, err := s.Tip(context.Background(), p)
							require.NoError(b, err)
							sub, err := s.Subscribe(context.Background(), p, tip.Next)
							require.NoError(b, err)
							subs.Add(1)
							go func() {
								defer subs.Done()
								defer sub.Stop()
								for {
									recs, err := sub.Next(sctx)
									if err != nil {
										return
									}
									now := time.Now()
									arr := make([]time.Time, len(recs))
									for i := range recs {
										arr[i] = recs[i].Arrival
									}
									observe(now, arr)
								}
							}()
						}
					}
					work := make(chan int, 1024)
					var wg sync.WaitGroup
					for range 16 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := range work {
								_, err := s.Append(context.Background(), []stream.Entry{{PartitionKey: fmt.Sprint("p", i%1000), Data: []byte(`{"product_id":"p1","event_type":"view","price":10}`)}})
								if err != nil {
									b.Error(err)
								}
							}
						}()
					}
					b.ResetTimer()
					sendPaced(rate, b.N, work)
					wg.Wait()
					select {
					case <-done:
					case <-time.After(time.Minute):
						b.Fatalf("received %d of %d records", n.Load(), target)
					}
					b.StopTimer()
					mu.Lock()
					reportQuantiles(b, lat)
					mu.Unlock()
				})
			}
		}
	}
}

// BenchmarkTriggerLanes puts single items at a steady rate (from 16
// writers, paced) into a table whose change stream triggers a Go function
// with batch_size 100 and parallelism 4, as the Fast Sneakers "reprice"
// trigger does, and measures per change its commit (the change's arrival)
// to the function's call with it: p50, p99, p99.9 in µs. The function
// stands in for the pricing function's work: 100 µs plus 10 µs a record,
// and every 250th invocation 10 ms more (a price write waiting for a slow
// fsync): rare enough that, when the stall holds back only its own lane,
// the records it delays are under 1% of all and p99 stays below it. It reports too the invocations per 100 changes (how full the
// batches were). b.N changes per run.
//
//	go test -run '^$' -bench 'BenchmarkTriggerLanes' -benchtime 10000x ./internal/trigger/
func BenchmarkTriggerLanes(b *testing.B) {
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			e := newEnvOn(b, enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond})), trigger.Config{})
			ctx := context.Background()
			_, err := e.tables.Create(ctx, table.Spec{Name: "features", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}, StreamView: table.ViewNewImage})
			require.NoError(b, err)
			tb, err := e.tables.Open(ctx, "features")
			require.NoError(b, err)
			lat := make([]time.Duration, 0, b.N)
			var mu sync.Mutex
			var n, calls atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			require.NoError(b, e.fns.Register("work", trigger.FunctionOf(func(_ context.Context, bt *trigger.Batch) (trigger.Response, error) {
				now := time.Now()
				mu.Lock()
				for _, r := range bt.Records {
					lat = append(lat, now.Sub(r.Arrival))
				}
				mu.Unlock()
				work := 100*time.Microsecond + time.Duration(len(bt.Records))*10*time.Microsecond
				if calls.Add(1)%250 == 0 {
					work += 10 * time.Millisecond
				}
				<-time.After(work) // the function's simulated work, not a wait for a condition
				if n.Add(int64(len(bt.Records))) == target {
					close(done)
				}
				return trigger.Response{}, nil
			})))
			e.apply(fmt.Sprintf("name: bench\nsource: table:features\nfunction: go:work\nstarting_position: latest\nbatch_size: 100\nparallelism: %d\n", par))
			waitRunning(b, e, "bench")
			work := make(chan int, 1024)
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						it := item.Item{"product_id": item.StringValue(fmt.Sprint("p", i%1000)), "price": item.IntValue(int64(i)), "views": item.IntValue(3)}
						if _, err := tb.Put(context.Background(), it, table.WriteOptions{}); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			b.ResetTimer()
			sendPaced(5000, b.N, work)
			wg.Wait()
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("received %d of %d changes", n.Load(), target)
			}
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			reportQuantiles(b, lat)
			b.ReportMetric(float64(calls.Load())/float64(b.N)*100, "calls/100-changes")
		})
	}
}
