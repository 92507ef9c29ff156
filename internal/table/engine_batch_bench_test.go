package table_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
)

// BenchmarkTableEngineBatch measures, on the raw engine with fsync always
// (the default), what storing many items' versions costs: one synchronous
// publish per message (what a table write does) against JetStream's atomic
// batch publish of 25 and 200 messages, which stores a batch with one
// fsync of the stream. It is the evidence for how table writes are stored:
//
//	go test -run '^$' -bench TableEngineBatch -benchtime 4000x ./internal/table/
//
// msgs/s counts messages stored; batch-ms is the time of one whole batch
// (publish of its messages to the commit's acknowledgement).
func BenchmarkTableEngineBatch(b *testing.B) {
	for _, size := range []int{1, 25, 200} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			e := enginetest.Start(b)
			nc := e.Conn()
			ctx := context.Background()
			_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{
				Name: "batchbench", Subjects: []string{"batchbench.>"}, AllowAtomicPublish: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 300) // about a pricing_features item
			n, batches := 0, 0
			var batchTime time.Duration
			start := time.Now()
			b.ResetTimer()
			for b.Loop() {
				if size == 1 {
					if _, err := e.JetStream().PublishMsg(ctx, &nats.Msg{Subject: "batchbench." + strconv.Itoa(n), Data: data}); err != nil {
						b.Fatal(err)
					}
					n++
					continue
				}
				t0 := time.Now()
				id := strconv.Itoa(batches)
				for i := 1; i <= size; i++ {
					m := nats.NewMsg("batchbench." + strconv.Itoa(n))
					n++
					m.Data = data
					m.Header.Set("Nats-Batch-Id", id)
					m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i))
					if i < size {
						if err := nc.PublishMsg(m); err != nil {
							b.Fatal(err)
						}
						continue
					}
					m.Header.Set("Nats-Batch-Commit", "1")
					r, err := nc.RequestMsg(m, 30*time.Second)
					if err != nil {
						b.Fatal(err)
					}
					if want := fmt.Sprintf(`"count":%d`, size); !strings.Contains(string(r.Data), want) {
						b.Fatalf("batch not committed: %s", r.Data)
					}
				}
				batches++
				batchTime += time.Since(t0)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
			if batches > 0 {
				b.ReportMetric(batchTime.Seconds()*1e3/float64(batches), "batch-ms")
			}
		})
	}
}

// BenchmarkTableEnginePublish takes a features row's engine cost apart on
// the raw engine (fsync always, the writes unsynced as the ETL sink's
// are): 620-byte messages to 10,000 subjects, each keeping its newest
// message as pricing_features does, published asynchronously from one
// goroutine with their acknowledgements (ack), without (noack: core
// publishes, which the stream stores and answers nothing), and with their
// acknowledgements and an ordered consumer reading them back, as a table's
// index does (ack+consumer; it skips the messages replaced before it
// reads them, so it reads fewer than were written). cpu-µs/op is the
// whole process's CPU per message:
//
//	go test -run '^$' -bench TableEnginePublish -benchtime 100000x -count 2 ./internal/table/
func BenchmarkTableEnginePublish(b *testing.B) {
	for _, mode := range []string{"ack", "noack", "ack+consumer"} {
		b.Run(mode, func(b *testing.B) {
			e := enginetest.Start(b)
			ctx := context.Background()
			js := e.JetStream()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "pub", Subjects: []string{"pub.>"}, MaxMsgsPerSubject: 1}); err != nil {
				b.Fatal(err)
			}
			subjects := make([]string, 10_000)
			for i := range subjects {
				subjects[i] = fmt.Sprintf("pub.p%06d", i)
			}
			data := make([]byte, 620)
			var seen atomic.Uint64 // the newest stream sequence the consumer read
			if mode == "ack+consumer" {
				c, err := js.OrderedConsumer(ctx, "pub", jetstream.OrderedConsumerConfig{})
				if err != nil {
					b.Fatal(err)
				}
				cc, err := c.Consume(func(m jetstream.Msg) {
					if md, err := m.Metadata(); err == nil {
						seen.Store(md.Sequence.Stream)
					}
				})
				if err != nil {
					b.Fatal(err)
				}
				defer cc.Stop()
			}
			stream, err := js.Stream(ctx, "pub")
			if err != nil {
				b.Fatal(err)
			}
			stored := func() uint64 {
				info, err := stream.Info(ctx)
				if err != nil {
					b.Fatal(err)
				}
				return info.State.LastSeq
			}
			cpu := startCPU()
			b.ResetTimer()
			for i := range b.N {
				if mode == "noack" {
					if err := e.Conn().Publish(subjects[i%len(subjects)], data); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if _, err := js.PublishAsync(subjects[i%len(subjects)], data); err != nil {
					b.Fatal(err)
				}
			}
			if mode == "noack" {
				if err := e.Conn().Flush(); err != nil {
					b.Fatal(err)
				}
			} else {
				<-js.PublishAsyncComplete()
			}
			// Done when every message is stored and, with the consumer,
			// read back (it skips messages replaced before it reads them,
			// so it is done when it has read the last).
			polltest.Until(b, time.Minute, func() error {
				if n := stored(); n < uint64(b.N) {
					return fmt.Errorf("%d of %d stored", n, b.N)
				}
				if n := seen.Load(); mode == "ack+consumer" && n < uint64(b.N) {
					return fmt.Errorf("%d of %d read back", n, b.N)
				}
				return nil
			})
			b.StopTimer()
			cpu.report(b, b.N)
		})
	}
}
