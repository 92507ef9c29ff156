package sim

import (
	"fmt"
	"testing"
	"time"
)

// benchViewsPerSecond gives about 10,000 events per second (the bench's
// default rate) for the bench's catalog: a view makes about 1.65 events
// (clicks, carts, purchases, removes and bots' views, per view by a
// person), as pricestream bench calibrates it.
// It is fixed, not calibrated here, so that runs of different sampling
// code simulate the same traffic.
const benchViewsPerSecond = 10_000 / 1.65

// BenchmarkWorldStep is the simulator's step at the bench's settings: a
// flat 10,000 events per second, 200 random trends a day, steps of 10 ms
// of simulated time, on 10,000 and 100,000 products.
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
