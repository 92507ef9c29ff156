package web

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/pricing"
)

var testDemandNames = [2]string{"view_rate", "views"}

func sampleDecision() pricing.DecisionRecord {
	at := time.Date(2026, 11, 26, 9, 0, 0, 123456789, time.UTC)
	return pricing.DecisionRecord{DecisionID: "pricing_features/3/123456", ProductID: "sku-00042", Action: "refused", Reason: "cooldown",
		OldPrice: 99.5, NewPrice: 101.2, ExpectedUnits: 0.3, ExpectedRevenue: 30, CurrentRevenue: 29, Model: "pricing", ModelVersion: 1, Variant: "b", Fallback: true,
		Features: map[string]float64{"views": 12, "view_rate": 0.25, "trend": -1.5e-3}, MinPrice: 80, MaxPrice: 120, EventTime: at, IngestTime: at, DecidedAt: at, E2EMillis: 3.5}
}

// TestWebDecodeDecision: records as the pricing function writes them take
// the quick path, and decode as goccy/go-json decodes them; others take
// goccy/go-json's.
func TestWebDecodeDecision(t *testing.T) {
	rec := sampleDecision()
	std, err := json.Marshal(rec)
	require.NoError(t, err)
	goccy, err := gojson.Marshal(rec)
	require.NoError(t, err)
	for _, data := range [][]byte{std, goccy} {
		var r decision
		require.True(t, decodeDecisionQuick(data, &r, testDemandNames), "%s", data)
		require.Equal(t, "sku-00042", r.ProductID)
		require.Equal(t, "cooldown", r.Reason)
		require.True(t, r.DecidedAt.Equal(rec.DecidedAt))
		require.Equal(t, 0.25, r.demand)
		require.Equal(t, "view_rate", r.demandName)
		require.Equal(t, 3.5, r.E2EMillis)
	}
	for _, c := range []struct {
		data  string
		quick bool
		ok    bool
	}{
		{`{"product_id":"p","features":{"views":3}}`, true, true},
		{` { "product_id" : "p" , "features" : { "views" : 3 , "views" : 4 } } `, true, true},
		{`{"product_id":"p","features":null}`, true, true},
		{`{}`, true, false},
		{`{"action":"kept"}`, true, false},
		{`{"Product_ID":"p"}`, false, true},                 // a name in another case: goccy/go-json's
		{`{"product_id":"p\u0031"}`, false, true},           // an escape
		{`{"product_id":"p","extra":{"a":1}}`, false, true}, // an object not the features
		{`{"product_id":"p","features":{"views":"3"}}`, false, true},
		{`{"product_id":"p","old_price":"3"}`, false, false},
		{`{"product_id":"p"} x`, false, false},
		{`{"product_id":"p",}`, false, false},
		{`[1]`, false, false},
		{``, false, false},
	} {
		var r decision
		require.Equal(t, c.quick, decodeDecisionQuick([]byte(c.data), &r, testDemandNames), c.data)
		require.Equal(t, c.ok, decodeDecision([]byte(c.data), &r, testDemandNames), c.data)
	}
	var r decision
	require.True(t, decodeDecision([]byte(`{"product_id":"p","features":{"views":3,"view_rate":0.5}}`), &r, testDemandNames))
	require.Equal(t, 0.5, r.demand)
	require.True(t, decodeDecision([]byte(`{"product_id":"p","expected_units":2,"features":{"clicks":3}}`), &r, testDemandNames))
	require.Equal(t, 2.0, r.demand)
	require.Equal(t, "expected_units", r.demandName)
}

// Where the quick path takes a record, it reads what goccy/go-json reads.
func FuzzDecodeDecision(f *testing.F) {
	rec := sampleDecision()
	std, _ := json.Marshal(rec)
	f.Add(std)
	goccy, _ := gojson.Marshal(rec)
	f.Add(goccy)
	f.Add([]byte(`{"product_id":"p","features":{"views":1,"views":null},"features":{"view_rate":2}}`))
	f.Add([]byte(`{"decision_id":"a","product_id":"é","action":"applied","fallback":false,"model_version":-0.5e+3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var quick decision
		if !decodeDecisionQuick(data, &quick, testDemandNames) {
			return
		}
		var slow decision
		if err := gojson.Unmarshal(data, &slow); err != nil {
			t.Fatalf("%q: quick, but goccy/go-json: %v", data, err)
		}
		slow.findDemand(testDemandNames)
		same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
		if quick.DecisionID != slow.DecisionID || quick.ProductID != slow.ProductID || quick.Action != slow.Action || quick.Reason != slow.Reason ||
			quick.Model != slow.Model || !same(quick.OldPrice, slow.OldPrice) || !same(quick.NewPrice, slow.NewPrice) ||
			!same(quick.ExpectedUnits, slow.ExpectedUnits) || !same(quick.E2EMillis, slow.E2EMillis) || !quick.DecidedAt.Equal(slow.DecidedAt) ||
			!same(quick.demand, slow.demand) || quick.demandName != slow.demandName {
			t.Fatalf("%q: quick %+v, goccy/go-json %+v", data, quick, slow)
		}
	})
}
