package pricing

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

// TestPricingRecordsAgainAfterResume: a decision applied just before a
// crash, whose record was lost and whose features row the table no
// longer holds (change history latest keeps the newest row only), is
// recorded again at the product's first row after the trigger resumed
// from a checkpoint before it; once, and not when the checkpoint is past
// it or the decision was made in this reading.
func TestPricingRecordsAgainAfterResume(t *testing.T) {
	ctx := context.Background()
	f := start(t, Config{Cooldown: time.Minute, MinGainPct: 0.01})
	f.product(t, "shoe", 120, 60, 200)
	f.product(t, "boot", 120, 60, 200)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	// Applied (the price moves to 108), then the process dies before the
	// record is stored: price applies without recording.
	lost := f.row("shoe", 0, t0)
	rec, again, err := f.pricer.price(ctx, f.products, lost)
	require.NoError(t, err)
	require.Nil(t, again)
	require.Equal(t, "applied", rec.Action)
	require.Equal(t, 108.0, f.price(t, "shoe"))
	require.Empty(t, f.decisions(t))
	require.Equal(t, "demand", rec.Model)
	require.NotEmpty(t, rec.Features)
	require.Positive(t, rec.ExpectedRevenue)

	restart := func() {
		t.Helper()
		var err error
		f.pricer, err = New(Config{Cooldown: time.Minute, MinGainPct: 0.01}, Deps{
			Tables: f.tables, Streams: f.streams, Controls: f.controls, Registerer: prometheus.NewRegistry(),
			Predictors: func(name string) (Predictor, error) { return f.eps.Endpoint(name) },
		})
		require.NoError(t, err)
	}
	resumed := func(r *trigger.Record, after string) *trigger.Record {
		r.ReadAfter = after
		return r
	}

	// The new life resumes after checkpoint 1000 and gets shoe's newer row.
	restart()
	f.invoke(t, resumed(f.row("shoe", 0, t0.Add(10*time.Second)), "1000"), resumed(f.row("boot", 0, t0.Add(10*time.Second)), "1000"))
	ds := f.decisions(t)
	require.Len(t, ds, 3)
	got := map[string]DecisionRecord{}
	for _, d := range ds {
		got[d.DecisionID] = d
	}
	require.Equal(t, "applied", got["1001"].Action, "%+v", ds)
	require.Equal(t, "shoe", got["1001"].ProductID)
	require.Equal(t, 120.0, got["1001"].OldPrice)
	require.Equal(t, 108.0, got["1001"].NewPrice)
	require.Equal(t, t0, got["1001"].EventTime)
	require.Equal(t, 60.0, got["1001"].MinPrice)
	// With what the change was decided with, which the product kept; not
	// its end-to-end latency (the commit time was lost with the record).
	re := got["1001"]
	require.True(t, re.RecordedAgain)
	require.Equal(t, rec.Model, re.Model)
	require.Equal(t, rec.ModelVersion, re.ModelVersion)
	require.Equal(t, rec.Variant, re.Variant)
	require.Equal(t, rec.Features, re.Features)
	require.Equal(t, rec.ExpectedUnits, re.ExpectedUnits)
	require.Equal(t, rec.ExpectedRevenue, re.ExpectedRevenue)
	require.Equal(t, rec.CurrentRevenue, re.CurrentRevenue)
	require.True(t, rec.IngestTime.Equal(re.IngestTime), "%v, %v", rec.IngestTime, re.IngestTime)
	require.True(t, rec.DecidedAt.Equal(re.DecidedAt), "%v, %v", rec.DecidedAt, re.DecidedAt)
	require.Zero(t, re.E2EMillis)
	require.False(t, got["1002"].RecordedAgain)
	require.False(t, got["1003"].RecordedAgain)
	require.Equal(t, "refused", got["1002"].Action)
	require.Equal(t, ReasonCooldown, got["1002"].Reason)
	require.Equal(t, "applied", got["1003"].Action, "boot had no decision to record again")
	require.Equal(t, 1.0, testutil.ToFloat64(f.pricer.metrics.recordedAgain))

	// Once per product and reading: shoe's next row records nothing again,
	// nor does boot's (its decision was made in this reading).
	f.invoke(t, resumed(f.row("shoe", 0, t0.Add(20*time.Second)), "1000"), resumed(f.row("boot", 0, t0.Add(20*time.Second)), "1000"))
	require.Len(t, f.decisions(t), 5)

	// A reading resumed after boot's decision was checkpointed: nothing.
	restart()
	f.invoke(t, resumed(f.row("boot", 0, t0.Add(30*time.Second)), "1003"))
	require.Len(t, f.decisions(t), 6)
	require.Zero(t, testutil.ToFloat64(f.pricer.metrics.recordedAgain))

	// A reading that began before it (a restart that found the checkpoint
	// at 1002) records boot's decision again, with the trigger's width.
	restart()
	f.invoke(t, resumed(f.row("boot", 0, t0.Add(40*time.Second)), "1002"))
	ds = f.decisions(t)
	require.Len(t, ds, 8)
	require.Equal(t, 1.0, testutil.ToFloat64(f.pricer.metrics.recordedAgain))

	// The table source's sequence numbers have 21 digits; the decision id
	// recorded again has them too, as the original had.
	restart()
	cur := item.Item{"price": priceValue(108), "price_previous": priceValue(120), "price_decision": item.IntValue(1003)}
	seq, err := seqNumber("000000000000000009999")
	require.NoError(t, err)
	d := f.pricer.unrecorded(&trigger.Record{SequenceNumber: "000000000000000009999"}, "boot", cur, seq)
	require.NotNil(t, d, "no checkpoint: any earlier decision may be unrecorded")
	require.Equal(t, "000000000000000001003", d.DecisionID)
	require.Empty(t, d.Model, "the product kept nothing of the change")

	// What the product kept of another decision is not this one's.
	kept := decidedWith(item.NumberFromInt(1002), &DecisionRecord{Features: map[string]float64{"views": 3}}, Decision{Units: 2}, &model.Prediction{Model: "other", Version: 2})
	cur[attrDecided] = kept
	restart()
	d = f.pricer.unrecorded(&trigger.Record{SequenceNumber: "000000000000000009999"}, "boot", cur, seq)
	require.NotNil(t, d)
	require.Empty(t, d.Model)
	require.Empty(t, d.Features)
	cur[attrDecided] = decidedWith(item.NumberFromInt(1003), &DecisionRecord{Features: map[string]float64{"views": 3}}, Decision{Units: 2}, &model.Prediction{Model: "other", Version: 2})
	restart()
	d = f.pricer.unrecorded(&trigger.Record{SequenceNumber: "000000000000000009999"}, "boot", cur, seq)
	require.Equal(t, "other", d.Model)
	require.Equal(t, 2, d.ModelVersion)
	require.Equal(t, map[string]float64{"views": 3}, d.Features)
	require.Equal(t, 2.0, d.ExpectedUnits)
}
