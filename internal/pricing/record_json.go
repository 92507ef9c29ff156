package pricing

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/record"
)

// AppendJSON appends the record's JSON encoding to dst: byte for byte what
// encoding/json writes for it (TestPricingRecordEncoding,
// FuzzPricingRecordEncoding), without reflection and with one allocation
// at most (the sorted feature names). Every decision is recorded, and
// encoding the records was a few percent of the pipeline's CPU with
// encoding/json and still 1.7% with goccy/go-json. A feature or price that
// is not a finite number is an error, as encoding/json makes it.
func (r *DecisionRecord) AppendJSON(dst []byte) ([]byte, error) {
	w := recordWriter{b: append(dst, '{')}
	w.str(`"decision_id":`, r.DecisionID, false)
	w.str(`,"product_id":`, r.ProductID, false)
	w.str(`,"action":`, r.Action, false)
	w.str(`,"reason":`, r.Reason, true)
	w.num(`,"old_price":`, r.OldPrice, false)
	w.num(`,"new_price":`, r.NewPrice, false)
	w.num(`,"expected_units":`, r.ExpectedUnits, true)
	w.num(`,"expected_revenue":`, r.ExpectedRevenue, true)
	w.num(`,"current_revenue":`, r.CurrentRevenue, true)
	w.str(`,"model":`, r.Model, true)
	if r.ModelVersion != 0 {
		w.b = append(w.b, `,"model_version":`...)
		w.b = strconv.AppendInt(w.b, int64(r.ModelVersion), 10)
	}
	w.str(`,"variant":`, r.Variant, true)
	if r.Fallback {
		w.b = append(w.b, `,"fallback":true`...)
	}
	w.b = append(w.b, `,"features":`...)
	w.features(r.Features)
	w.num(`,"min_price":`, r.MinPrice, true)
	w.num(`,"max_price":`, r.MaxPrice, true)
	w.time(`,"event_time":`, r.EventTime)
	if !r.IngestTime.IsZero() {
		w.time(`,"ingest_time":`, r.IngestTime)
	}
	w.time(`,"decided_at":`, r.DecidedAt)
	w.num(`,"e2e_latency_ms":`, r.E2EMillis, true)
	if r.RecordedAgain {
		w.b = append(w.b, `,"recorded_again":true`...)
	}
	if w.err != nil {
		return nil, w.err
	}
	return append(w.b, '}'), nil
}

// recordWriter appends a record's fields; the first error sticks and the
// calls after it do nothing. A key is written with its comma, quotes and
// colon.
type recordWriter struct {
	b   []byte
	err error
}

func (w *recordWriter) str(key, s string, omitEmpty bool) {
	if w.err != nil || omitEmpty && s == "" {
		return
	}
	w.b = append(w.b, key...)
	w.b = jsonstr.AppendHTMLSafe(w.b, s)
}

func (w *recordWriter) num(key string, v float64, omitZero bool) {
	if w.err != nil || omitZero && v == 0 {
		return
	}
	w.b = append(w.b, key...)
	w.b, w.err = appendFloat(w.b, v)
}

func (w *recordWriter) time(key string, t time.Time) {
	if w.err != nil {
		return
	}
	w.b = append(w.b, key...)
	w.b, w.err = appendTime(w.b, t)
}

func (w *recordWriter) features(m map[string]float64) {
	if w.err == nil {
		w.b, w.err = appendFeatures(w.b, m)
	}
}

// appendFeatures appends a map of features as encoding/json does: keys in
// sorted order, null for a nil map.
func appendFeatures(dst []byte, m map[string]float64) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	var buf [32]string // the features of a decision fit: no allocation
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.AppendHTMLSafe(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendFloat(dst, m[k]); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendFloat appends f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from 1e21
// on, with a two-digit exponent written as encoding/json does (1e-07 as
// 1e-7).
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("pricing: record: unsupported value %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	abs := math.Abs(f)
	if abs < 1e15 && f == math.Trunc(f) && (f != 0 || !math.Signbit(f)) {
		// A whole number (most features are counts): the same digits,
		// several times faster than the shortest-decimal search.
		return strconv.AppendInt(dst, int64(f), 10), nil
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), refusing years it cannot write.
func appendTime(dst []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y >= 10000 {
		return nil, fmt.Errorf("pricing: record: time %v: year outside of range [0,9999]", t)
	}
	dst = append(dst, '"')
	dst = record.AppendTimeRFC3339Nano(dst, t)
	return append(dst, '"'), nil
}
