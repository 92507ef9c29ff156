package demo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/sim"
)

// The bench's calibration gives the events per view of a long run of the
// same shop, for the demo's share of buyers and for the bench's, so that
// the bench sends the rate it is asked for.
func TestBenchEventsPerView(t *testing.T) {
	for _, share := range []float64{0.3, BenchIntentShare} {
		cfg := sim.Config{Products: 1000, Flat: true, TrendsPerDay: 200, IntentShare: share}
		got, err := eventsPerView(cfg)
		require.NoError(t, err)
		cfg.ViewsPerSecond = 1000
		w, err := sim.NewWorld(cfg)
		require.NoError(t, err)
		for range 600 {
			w.Step(time.Second, nil)
		}
		sc := w.Score()
		want := float64(sc.Events) / float64(sc.Views)
		require.InDelta(t, want, got, 0.01*want, "intent share %g", share)
	}
}
