package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pricestream/pricestream/internal/model/internal/base"
	"github.com/pricestream/pricestream/internal/model/linear"
	"github.com/pricestream/pricestream/internal/model/tree"
)

// Runtime is a loaded model that predicts one value per row.
//
// Implementations are immutable after loading and safe for concurrent use
// by any number of goroutines. Predict and PredictBatch do not allocate,
// block or keep the slices they are given, and do not modify them except
// for writing out.
type Runtime interface {
	// NumFeatures returns the number of values in a row.
	NumFeatures() int
	// FeatureNames returns the feature names in row order, or nil if the
	// model file carries none. The caller owns the returned slice.
	FeatureNames() []string
	// Predict returns the prediction for one row; NaN marks a missing
	// value. A row shorter than NumFeatures reads as if padded with NaN and
	// extra values are ignored: Predict never panics. Use PredictChecked to
	// reject such rows.
	Predict(row []float64) float64
	// PredictBatch writes the prediction for rows[i] to out[i], exactly as
	// Predict would; it panics if len(out) < len(rows). Use
	// PredictBatchChecked to get an error instead.
	PredictBatch(rows [][]float64, out []float64)
	// Info describes the model.
	Info() Info
}

var (
	_ Runtime        = (*tree.Ensemble)(nil)
	_ Runtime        = (*linear.Model)(nil)
	_ AlongPredictor = (*tree.Ensemble)(nil)
)

// AlongPredictor is the optional capability of a [Runtime] that predicts
// one row at many values of one feature in less time than one Predict per
// value: a tree ensemble walks each tree once for all of them. A pricing
// policy asks for one product's demand at many candidate prices; those
// rows differ in the price alone. [PredictAlong] uses the capability where
// a runtime has it.
//
// PredictAlong writes to out[i] exactly what Predict would return for row
// with its feature f set to values[i] (NaN: missing). It does not modify
// row or values and panics if out is shorter than values. It may allocate.
type AlongPredictor interface {
	PredictAlong(row []float64, f int, values, out []float64)
}

// PredictAlong writes to out[i] r's prediction for row with its feature f
// set to values[i]: with r's own PredictAlong where r is an
// [AlongPredictor], otherwise with one Predict per value on a copy of row.
// row is not modified. It panics if out is shorter than values or f is
// not an index of row.
func PredictAlong(r Runtime, row []float64, f int, values, out []float64) {
	if len(out) < len(values) {
		panic("model: PredictAlong: out is shorter than values")
	}
	if f < 0 || f >= len(row) {
		panic("model: PredictAlong: feature index out of the row")
	}
	if a, ok := r.(AlongPredictor); ok {
		a.PredictAlong(row, f, values, out)
		return
	}
	scratch := slices.Clone(row)
	for i, v := range values {
		scratch[f] = v
		out[i] = r.Predict(scratch)
	}
}

// Info describes a loaded model: format, objective, number of trees and
// what its predictions mean.
type Info = base.Info

// Output says what a model's predictions mean.
type Output = base.Output

// The kinds of output.
const (
	// OutputRegression is an unbounded real value.
	OutputRegression = base.OutputRegression
	// OutputProbability is a probability in [0, 1].
	OutputProbability = base.OutputProbability
)

// Names of the model file formats, as Load takes them.
const (
	// FormatXGBoostJSON is a model saved by XGBoost's save_model("m.json").
	FormatXGBoostJSON = base.FormatXGBoostJSON
	// FormatLightGBM is a LightGBM text model (save_model("m.txt")).
	FormatLightGBM = base.FormatLightGBM
	// FormatLinearJSON is pricestream's JSON file of linear or logistic
	// regression coefficients (see package model/linear).
	FormatLinearJSON = base.FormatLinearJSON
)

// LoadError reports a model file that could not be loaded; see
// [ErrInvalidModel] and [ErrUnsupported].
type LoadError = base.LoadError

// Errors callers branch on; test with errors.Is.
var (
	// ErrInvalidModel means a model file is malformed or inconsistent; the
	// error is a *LoadError naming the problem and its position.
	ErrInvalidModel = base.ErrInvalidModel
	// ErrUnsupported means a well-formed model file needs something no
	// runtime implements (multi-class, DART, linear trees…); the error is a
	// *LoadError.
	ErrUnsupported = base.ErrUnsupported
	// ErrUnknownFormat means the format name is unknown, or the format of
	// the data could not be detected.
	ErrUnknownFormat = base.ErrUnknownFormat
	// ErrFeatureCount means a row does not have the number of values the
	// model expects.
	ErrFeatureCount = base.ErrFeatureCount
)

// Formats returns the format names Load accepts.
func Formats() []string {
	return []string{FormatXGBoostJSON, FormatLightGBM, FormatLinearJSON}
}

// Load loads a model file of the given format (FormatXGBoostJSON,
// FormatLightGBM or FormatLinearJSON); an empty format means detect it with
// [DetectFormat]. Load does not keep data.
//
// Errors: ErrUnknownFormat for an unknown format name or undetectable data;
// otherwise a *LoadError wrapping ErrInvalidModel or ErrUnsupported. When
// the named format fails and the data looks like another format, the error
// says so.
func Load(format string, data []byte) (Runtime, error) {
	detected := ""
	if format == "" {
		f, err := DetectFormat(data)
		if err != nil {
			return nil, err
		}
		format, detected = f, f
	}
	var r Runtime
	var err error
	switch format {
	case FormatXGBoostJSON:
		var e *tree.Ensemble
		if e, err = tree.LoadXGBoostJSON(data); err == nil {
			r = e
		}
	case FormatLightGBM:
		var e *tree.Ensemble
		if e, err = tree.LoadLightGBM(data); err == nil {
			r = e
		}
	case FormatLinearJSON:
		var m *linear.Model
		if m, err = linear.Load(data); err == nil {
			r = m
		}
	default:
		return nil, fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownFormat, format, FormatXGBoostJSON, FormatLightGBM, FormatLinearJSON)
	}
	if err != nil {
		if detected == "" {
			if other, derr := DetectFormat(data); derr == nil && other != format {
				return nil, fmt.Errorf("%w (the data looks like a %s model)", err, other)
			}
		}
		return nil, err
	}
	return r, nil
}

// DetectFormat tells the format of a model file from its content: a
// LightGBM text model starts with the line "tree"; a JSON object with a
// "learner" member is an XGBoost model, one with "coefficients" a
// linear-json model. It returns an error wrapping ErrUnknownFormat if the
// data is none of these.
func DetectFormat(data []byte) (string, error) {
	s := bytes.TrimLeft(data, " \t\r\n\ufeff")
	switch {
	case bytes.HasPrefix(s, []byte("tree\n")), bytes.HasPrefix(s, []byte("tree\r\n")):
		return FormatLightGBM, nil
	case bytes.HasPrefix(s, []byte("{")):
		if f := jsonFormat(s); f != "" {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w: cannot tell the format of the data (want %s, %s or %s)", ErrUnknownFormat, FormatXGBoostJSON, FormatLightGBM, FormatLinearJSON)
}

// jsonFormat reads the top-level member names of a JSON object up to the
// first that tells the format. It stops at "learner" without reading its
// value, which in XGBoost files holds the bare token NaN that is not JSON.
func jsonFormat(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t {
		case "learner":
			return FormatXGBoostJSON
		case "coefficients":
			return FormatLinearJSON
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

// PredictChecked returns r's prediction for row after checking that row has
// r.NumFeatures() values; otherwise it returns an error wrapping
// ErrFeatureCount.
func PredictChecked(r Runtime, row []float64) (float64, error) {
	if len(row) != r.NumFeatures() {
		return 0, fmt.Errorf("%w: row has %d values, the model expects %d", ErrFeatureCount, len(row), r.NumFeatures())
	}
	return r.Predict(row), nil
}

// PredictBatchChecked checks every row as PredictChecked does and that out
// has room for every row, then writes the predictions to out. On an error
// (wrapping ErrFeatureCount for a bad row, naming its index) out is left
// unchanged.
func PredictBatchChecked(r Runtime, rows [][]float64, out []float64) error {
	if len(out) < len(rows) {
		return fmt.Errorf("model: %d rows but room for %d predictions", len(rows), len(out))
	}
	n := r.NumFeatures()
	for i, row := range rows {
		if len(row) != n {
			return fmt.Errorf("%w: row %d has %d values, the model expects %d", ErrFeatureCount, i, len(row), n)
		}
	}
	r.PredictBatch(rows, out)
	return nil
}
