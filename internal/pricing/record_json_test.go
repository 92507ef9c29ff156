package pricing

import (
	"encoding/json"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"
)

// TestPricingRecordEncoding: decision records are written with
// goccy/go-json for speed; they must be byte for byte what encoding/json
// writes (consumers of price_changes parse them with anything).
func TestPricingRecordEncoding(t *testing.T) {
	at := time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC)
	recs := []*DecisionRecord{
		{DecisionID: "1-0", ProductID: "p1", Action: "kept", Features: map[string]float64{}, EventTime: at, DecidedAt: at},
		{DecisionID: "7-3", ProductID: "p\"<2>&", Action: "applied", Reason: "", OldPrice: 129.99, NewPrice: 136.49, ExpectedUnits: 0.0123,
			ExpectedRevenue: 1.6789, CurrentRevenue: 1.5, Model: "fastsneakers-demand", ModelVersion: 3, Variant: "b", Fallback: true,
			Features: map[string]float64{"views": 12, "trend_now": 3.25e-7, "price_ratio": 1.05, "a": 1e21, "b": -0.0},
			MinPrice: 99, MaxPrice: 199, EventTime: at, IngestTime: at.Add(time.Millisecond), DecidedAt: at.Add(2 * time.Millisecond), E2EMillis: 1.25},
		{DecisionID: "9-1", ProductID: "p3", Action: "refused", Reason: "cooldown", Features: nil, EventTime: at, DecidedAt: at},
	}
	for _, r := range recs {
		want, err := json.Marshal(r)
		require.NoError(t, err)
		got, err := gojson.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}
