package table_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
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
