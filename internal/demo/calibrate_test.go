package demo

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/sim"
)

// The bench asks the simulator for views at rate / eventsPerView; the
// events that follow (clicks, carts, purchases of the same sessions) must
// then come to the rate asked, within 2%, once sessions are under way.
func TestBenchCalibration(t *testing.T) {
	for _, products := range []int{1_000, 10_000} {
		cfg := sim.Config{Products: products, Flat: true, TrendsPerDay: 200}
		perView, err := eventsPerView(cfg)
		require.NoError(t, err)
		const rate = 10_000.0
		cfg.ViewsPerSecond = rate / perView
		cfg.Seed = 7 // another world than the calibration's
		w, err := sim.NewWorld(cfg)
		require.NoError(t, err)
		for range 10 {
			w.Step(time.Second, nil)
		}
		before := w.Score()
		for range 30 {
			w.Step(time.Second, nil)
		}
		after := w.Score()
		got := float64(after.Events-before.Events) / 30
		require.LessOrEqual(t, math.Abs(got-rate)/rate, 0.02, "%d products: %.0f events/s for %.0f asked (%.3f events a view)", products, got, rate, perView)
	}
}
