package fastsneakers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
)

// TestFastSneakersTrendNow checks the click-features job's trend_now, the
// pricing model's demand signal, on a fresh pipeline: a product viewed
// steadily since the pipeline started reads as no trend (below 1: it has
// no earlier rate to compare with, and reading its first minute against a
// longer span made every product of a new pipeline look as if trending),
// a burst on a product with ten minutes of steady history reads as one at
// once, and a few views close together by chance at a window's start do
// not.
func TestFastSneakersTrendNow(t *testing.T) {
	c := startApp(t)
	ctx := context.Background()
	require.NoError(t, Setup(ctx, c))

	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) // a window's start
	type ev struct {
		at      time.Time
		product string
	}
	var evs []ev
	for i := range 61 { // steady: a view a second for a minute, from the start
		evs = append(evs, ev{t0.Add(time.Duration(i) * time.Second), "steady"})
	}
	for i := range 61 { // history: a view every 10 s for ten minutes
		evs = append(evs, ev{t0.Add(time.Duration(i) * 10 * time.Second), "burst"})
	}
	for i := range 10 { // then ten views in two seconds
		evs = append(evs, ev{t0.Add(600*time.Second + time.Duration(i+1)*200*time.Millisecond), "burst"})
	}
	for i := range 180 { // history: 0.3 views a second for ten minutes
		evs = append(evs, ev{t0.Add(time.Duration(i) * 10 * time.Second / 3), "clustered"})
	}
	for i := range 5 { // then, by chance, five in the first 3 s of a window
		evs = append(evs, ev{t0.Add(600*time.Second + time.Duration(i)*750*time.Millisecond), "clustered"})
	}
	// In event time order, or the job counts the later product's events
	// as late.
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	var recs []api.PutRecord
	for i, e := range evs {
		b, err := json.Marshal(map[string]any{
			"event_id": fmt.Sprintf("e%d", i), "event_type": "view", "product_id": e.product,
			"user_id": fmt.Sprintf("u%d", i), "session_id": fmt.Sprintf("s%d", i),
			"event_time": e.at.Format(time.RFC3339Nano), "price": 100.0, "quantity": 1,
			"referrer": "search", "device": "mobile",
		})
		require.NoError(t, err)
		recs = append(recs, api.PutRecord{PartitionKey: e.product, Data: b})
	}
	res, err := c.PutRecords(ctx, "clicks", recs)
	require.NoError(t, err)
	require.Zero(t, res.FailedRecordCount)

	type row struct {
		Views        int     `json:"views"`
		ViewsHour    int     `json:"views_1h"`
		TrendNow     float64 `json:"trend_now"`
		HourViewRate float64 `json:"hour_view_rate"`
	}
	read := func(product string, views, views1h int) row {
		var r row
		waitFor(t, 30*time.Second, func() error {
			raw, err := c.GetItem(ctx, "pricing_features", false, product)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return err
			}
			if r.Views != views || r.ViewsHour != views1h {
				return fmt.Errorf("%s: views %d, views_1h %d, want %d and %d", product, r.Views, r.ViewsHour, views, views1h)
			}
			return nil
		})
		return r
	}
	steady := read("steady", 61, 61)
	require.InDelta(t, 61.0/60, steady.HourViewRate, 1e-9, "the hour's rate of a product seen for a minute is its rate in that minute")
	require.Less(t, steady.TrendNow, 1.0, "a product viewed steadily since the pipeline started is not trending: %+v", steady)
	require.Greater(t, steady.TrendNow, 0.9, "%+v", steady)

	burst := read("burst", 11, 71) // the window from 600 s: the history's last view and the burst
	require.Greater(t, burst.TrendNow, 2.0, "ten views in two seconds after ten minutes of a view every 10 s: %+v", burst)

	// Five views close together at a window's start are chance, not a
	// trend: the shipped model raises a price from a trend_now of 1.5.
	clustered := read("clustered", 5, 185)
	require.Less(t, clustered.TrendNow, 1.5, "five views in 3 s at a window's start, 0.3 a second before: %+v", clustered)
}
