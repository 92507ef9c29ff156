package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/sim"
)

// TestDemoExplore records training data as the model generator does, for
// half a simulated hour: the shop tests a new random price within each
// product's bounds every five simulated minutes while pricing is off, and
// Explore writes one JSON line per product and closed window with at least
// MinTrainingViews views, holding the training columns only, by window
// start and then product id.
func TestDemoExplore(t *testing.T) {
	var out bytes.Buffer
	score, err := Explore(context.Background(), ExploreOptions{
		App:      testConfig(t),
		Sim:      sim.Config{Seed: 7, Products: 4, ViewsPerSecond: 2},
		Duration: 30 * time.Minute,
		Every:    5 * time.Minute,
	}, &out)
	require.NoError(t, err)
	require.Positive(t, score.Events)
	require.InDelta(t, 1800, score.SimSeconds, 10)

	columns := map[string]bool{}
	for _, c := range []string{"product_id", "window_start", "view_rate", "trend_now", "trend", "price_ratio", "price", "base_price",
		"views", "views_5m", "views_1h", "inventory", "add_to_carts", "purchases", "conversion", "revenue"} {
		columns[c] = true
	}
	windows := map[string]bool{} // product and window start
	var last [2]string           // the previous row's window start and product
	ratios := map[string]map[float64]bool{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var row map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row), sc.Text())
		for k := range row {
			require.True(t, columns[k], "column %q is not a training column: %s", k, sc.Text())
		}
		require.GreaterOrEqual(t, row["views"], float64(MinTrainingViews), sc.Text())
		id, _ := row["product_id"].(string)
		ws, _ := row["window_start"].(string)
		require.NotEmpty(t, id, sc.Text())
		require.False(t, windows[id+" "+ws], "a window written twice: %s", sc.Text())
		require.True(t, ws > last[0] || (ws == last[0] && id > last[1]), "a row out of order after %v: %s", last, sc.Text())
		last = [2]string{ws, id}
		windows[id+" "+ws] = true
		r, _ := row["price_ratio"].(float64)
		require.True(t, r >= 0.7-1e-9 && r <= 1.4+1e-9, "price outside the product's bounds (70%%-140%% of base): %s", sc.Text())
		if ratios[id] == nil {
			ratios[id] = map[float64]bool{}
		}
		ratios[id][r] = true
	}
	require.NoError(t, sc.Err())
	t.Logf("%d training rows, prices seen per product: %v", len(windows), ratios)
	require.GreaterOrEqual(t, len(windows), 10, "training rows: %d", len(windows))
	require.Len(t, ratios, 4, "every product has training rows")
	for id, rs := range ratios {
		// Six five-minute price periods in half an hour.
		require.GreaterOrEqual(t, len(rs), 5, "product %s seen at %d prices", id, len(rs))
	}
}
