package modeltest

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/pricestream/pricestream/internal/model"
)

// CheckLoad is the body of a loader's fuzz test: err, if not nil, must be
// a *model.LoadError of kind ErrInvalidModel or ErrUnsupported, and a
// loaded runtime must answer every kind of row without panicking, with
// predictions that do not depend on the goroutine or the call. seed feeds
// the values of one of the rows.
func CheckLoad(t *testing.T, r model.Runtime, err error, seed []byte) {
	t.Helper()
	if err != nil {
		var le *model.LoadError
		if !errors.As(err, &le) {
			t.Fatalf("error %q (%T) is not a *model.LoadError", err, err)
		}
		if !errors.Is(err, model.ErrInvalidModel) && !errors.Is(err, model.ErrUnsupported) {
			t.Fatalf("error %q is neither ErrInvalidModel nor ErrUnsupported", err)
		}
		if r != nil {
			t.Fatalf("a runtime and an error")
		}
		return
	}
	if r == nil {
		t.Fatal("no runtime and no error")
	}
	info := r.Info()
	if info.Format == "" || (info.Output != model.OutputRegression && info.Output != model.OutputProbability) {
		t.Fatalf("bad info %+v", info)
	}
	if names := r.FeatureNames(); names != nil && len(names) != r.NumFeatures() {
		t.Fatalf("%d feature names for %d features", len(names), r.NumFeatures())
	}
	n := min(r.NumFeatures(), 256)
	fromSeed := make([]float64, n)
	for i := range fromSeed {
		if len(seed) >= 8*(i+1) {
			fromSeed[i] = math.Float64frombits(binary.LittleEndian.Uint64(seed[8*i:]))
		}
	}
	rows := [][]float64{nil, {}, nanRow(n), make([]float64, n), fromSeed, append(fromSeed, 1, 2, 3)}
	for _, v := range []float64{math.Inf(1), math.Inf(-1), -1, 1e300, 0.5, 1 << 31} {
		row := make([]float64, n)
		for i := range row {
			row[i] = v
		}
		rows = append(rows, row)
	}
	out := make([]float64, len(rows))
	r.PredictBatch(rows, out)
	for i, row := range rows {
		p := r.Predict(row)
		if math.Float64bits(p) != math.Float64bits(out[i]) {
			t.Fatalf("row %d: Predict %v, PredictBatch %v", i, p, out[i])
		}
		if _, err := model.PredictChecked(r, row); (err != nil) != (len(row) != r.NumFeatures()) {
			t.Fatalf("row %d of %d values: PredictChecked error %v", i, len(row), err)
		}
	}
}
