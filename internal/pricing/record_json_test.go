package pricing

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"
)

// TestPricingRecordEncoding: decision records are written by a hand-written
// encoder (DecisionRecord.AppendJSON) for speed; they must be byte for byte
// what encoding/json writes (consumers of price_changes parse them with
// anything). goccy/go-json, which wrote them before, is held to the same.
func TestPricingRecordEncoding(t *testing.T) {
	at := time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC)
	recs := []*DecisionRecord{
		{DecisionID: "1-0", ProductID: "p1", Action: "kept", Features: map[string]float64{}, EventTime: at, DecidedAt: at},
		{DecisionID: "7-3", ProductID: "p\"<2>&", Action: "applied", Reason: "", OldPrice: 129.99, NewPrice: 136.49, ExpectedUnits: 0.0123,
			ExpectedRevenue: 1.6789, CurrentRevenue: 1.5, Model: "fastsneakers-demand", ModelVersion: 3, Variant: "b", Fallback: true,
			Features: map[string]float64{"views": 12, "trend_now": 3.25e-7, "price_ratio": 1.05, "a": 1e21, "b": -0.0},
			MinPrice: 99, MaxPrice: 199, EventTime: at, IngestTime: at.Add(time.Millisecond), DecidedAt: at.Add(2 * time.Millisecond), E2EMillis: 1.25},
		{DecisionID: "7-3", ProductID: "p2", Action: "applied", OldPrice: 129.99, NewPrice: 136.49, Model: "fastsneakers-demand", ModelVersion: 3,
			Features: map[string]float64{"views": 12}, EventTime: at, DecidedAt: at, RecordedAgain: true},
		{DecisionID: "9-1", ProductID: "p3", Action: "refused", Reason: "cooldown", Features: nil, EventTime: at, DecidedAt: at},
	}
	for _, r := range recs {
		want, err := json.Marshal(r)
		require.NoError(t, err)
		got, err := gojson.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		hand, err := r.AppendJSON([]byte("prefix"))
		require.NoError(t, err)
		require.Equal(t, "prefix"+string(want), string(hand))
	}
	for _, bad := range []*DecisionRecord{
		{Features: map[string]float64{"views": math.NaN()}},
		{NewPrice: math.Inf(1)},
		{DecidedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		_, jerr := json.Marshal(bad)
		require.Error(t, jerr)
		_, err := bad.AppendJSON(nil)
		require.Error(t, err, "what encoding/json refuses, AppendJSON refuses")
	}
}

// FuzzPricingRecordEncoding holds AppendJSON to encoding/json over records
// made from the fuzzer's strings and numbers.
func FuzzPricingRecordEncoding(f *testing.F) {
	f.Add("12-3", "p-000123", "applied", "", "fastsneakers-demand", "views", 129.99, 136.49, 0.0123, 1e21, 3.25e-7, int64(3), int64(1764205323456789000), true)
	f.Add("1-0", "p\"<2>&\u2028", "kept", "too little gain", "", "trend", 0.0, -0.0, 1e-7, -1.5e300, 5e-324, int64(0), int64(0), false)
	f.Add("", "\xff\xfe", "refused", "cooldown", "m\x00", "", 1.0, 2.0, 3.0, 4.0, 5.0, int64(-1), int64(-62135596800000000), false)
	f.Fuzz(func(t *testing.T, id, product, action, reason, model, feature string, oldPrice, newPrice, units, minPrice, feat float64, version, nanos int64, fallback bool) {
		at := time.Unix(0, nanos).UTC()
		r := &DecisionRecord{DecisionID: id, ProductID: product, Action: action, Reason: reason, OldPrice: oldPrice, NewPrice: newPrice,
			ExpectedUnits: units, ExpectedRevenue: units * newPrice, Model: model, ModelVersion: int(version), Variant: model, Fallback: fallback,
			MinPrice: minPrice, MaxPrice: -minPrice, EventTime: at, IngestTime: at.Add(time.Duration(version)), DecidedAt: at, E2EMillis: feat,
			RecordedAgain: version%2 != 0}
		if feature != "" {
			r.Features = map[string]float64{feature: feat, feature + "_2": units, "a" + feature: oldPrice}
		}
		want, jerr := json.Marshal(r)
		got, err := r.AppendJSON(nil)
		if jerr != nil {
			if err == nil {
				t.Fatalf("encoding/json refused %+v (%v), AppendJSON wrote %s", r, jerr, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("AppendJSON refused %+v: %v; encoding/json wrote %s", r, err, want)
		}
		if string(want) != string(got) {
			t.Fatalf("AppendJSON wrote\n%s\nencoding/json\n%s", got, want)
		}
	})
}

// BenchmarkPricingRecordEncoding encodes a decision record as the Fast
// Sneakers pricing function records it (the example's features and the
// model's inputs), with goccy/go-json (the encoder before) and with
// AppendJSON into a reused buffer.
//
//	go test -run '^$' -bench PricingRecordEncoding -count 6 -benchmem ./internal/pricing/
func BenchmarkPricingRecordEncoding(b *testing.B) {
	at := time.Date(2026, 11, 27, 6, 40, 1, 123456789, time.UTC)
	r := &DecisionRecord{DecisionID: "1234567-3", ProductID: "p-000123", Action: "kept", Reason: "too little gain", OldPrice: 129.99, NewPrice: 129.99,
		ExpectedUnits: 0.0421, ExpectedRevenue: 5.4726, CurrentRevenue: 5.4726, Model: "fastsneakers-demand", ModelVersion: 1,
		MinPrice: 97.49, MaxPrice: 162.49, EventTime: at, IngestTime: at.Add(time.Millisecond), DecidedAt: at.Add(3 * time.Millisecond),
		Features: map[string]float64{"views": 37, "view_rate": 0.41, "conversion": 0.0540540540540541, "trend": 1.2714285714285714, "trend_now": 0.83, "price_ratio": 1}}
	b.Run("encoder=goccy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gojson.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoder=append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = r.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
