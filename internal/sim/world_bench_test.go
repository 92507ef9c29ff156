package sim

import (
	"fmt"
	"testing"
	"time"
)

// benchViewsPerSecond is what pricestream bench asks of the shop for its
// default 10,000 events per second: its calibration (ten simulated seconds
// of the bench's catalog) finds 1.65 events per view by a person. In a
// steady run, where the purchases and removals of earlier visits arrive
// too, the shop then sends about 10,900 events per second (109 a step, as
// the benchmark reports). It is fixed, not calibrated here, so that runs
// of different sampling code simulate the same traffic.
const benchViewsPerSecond = 10_000 / 1.65

// BenchmarkWorldStep is the simulator's step at the bench's settings:
// flat traffic at its default rate (see benchViewsPerSecond), 200 random
// trends a day, steps of 10 ms of simulated time, on 10,000 and 100,000
// products.
func BenchmarkWorldStep(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("products=%d", n), func(b *testing.B) {
			w, err := NewWorld(Config{Seed: 1, Products: n, Flat: true, TrendsPerDay: 200, ViewsPerSecond: benchViewsPerSecond})
			if err != nil {
				b.Fatal(err)
			}
			var orders []Order
			// Warm up for longer than the longest delay of a visit's
			// later events (20 s), so that those are pending as in a run.
			for range 25 {
				_, orders = w.Step(time.Second, orders[:0])
			}
			events := 0
			b.ReportAllocs()
			for b.Loop() {
				var evs []Event
				evs, orders = w.Step(10*time.Millisecond, orders[:0])
				events += len(evs)
			}
			b.ReportMetric(float64(events)/float64(b.N), "events/step")
		})
	}
}

// BenchmarkSimPutBody: the body of a put of 100 click events, grown from
// empty (before) and into a buffer of putBodySize.
//
//	go test -run '^$' -bench SimPutBody -count 6 -benchmem ./internal/sim/
func BenchmarkSimPutBody(b *testing.B) {
	data := make([][]byte, 100)
	keys := make([]string, 100)
	for i := range data {
		e := Event{ID: fmt.Sprintf("e%d", i), Type: "view", ProductID: fmt.Sprintf("p%05d", i), UserID: "u1", SessionID: "s1",
			Time: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC), Price: 129.99, Quantity: 1}
		data[i], keys[i] = e.AppendJSON(nil), e.ProductID
	}
	b.Run("grown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendPutBody(nil, data, keys)
		}
	})
	b.Run("sized", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendPutBody(make([]byte, 0, putBodySize(data, keys)), data, keys)
		}
	})
}
