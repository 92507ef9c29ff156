package model_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

// fixtures are the model files of testdata, made by the real XGBoost and
// scikit-learn, and by gen.py's LightGBM writer (see testdata/gen.py).
var fixtures = []struct {
	file   string
	format string
}{
	{"xgb_reg.json", model.FormatXGBoostJSON},
	{"xgb_binary.json", model.FormatXGBoostJSON},
	{"xgb_reglogistic.json", model.FormatXGBoostJSON},
	{"xgb_categorical.json", model.FormatXGBoostJSON},
	{"xgb_bench.json", model.FormatXGBoostJSON},
	{"lgb_reg.txt", model.FormatLightGBM},
	{"lgb_binary.txt", model.FormatLightGBM},
	{"linear_reg.json", model.FormatLinearJSON},
	{"linear_logistic.json", model.FormatLinearJSON},
}

// TestModelLoadConformance loads every fixture through Load, by name and by
// detection, and runs the conformance suite on the result: tree and linear
// runtimes meet the same contract.
func TestModelLoadConformance(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", f.file))
			require.NoError(t, err)
			format, err := model.DetectFormat(data)
			require.NoError(t, err)
			require.Equal(t, f.format, format)

			named, err := model.Load(f.format, data)
			require.NoError(t, err)
			detected, err := model.Load("", data)
			require.NoError(t, err)
			require.Equal(t, named.Info(), detected.Info())
			require.Equal(t, f.format, detected.Info().Format)

			base := f.file[:len(f.file)-len(filepath.Ext(f.file))]
			c := modeltest.ReadCases(t, filepath.Join("testdata", base+".input.csv"), filepath.Join("testdata", base+".expected.csv"))
			modeltest.Runtime(t, detected, c)
		})
	}
}

func TestModelDetectFormat(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"lightgbm", "tree\nversion=v4\n", model.FormatLightGBM},
		{"lightgbm CRLF and BOM", "\ufefftree\r\nversion=v3\r\n", model.FormatLightGBM},
		{"xgboost", `{"learner":{"x":NaN},"version":[1,7,4]}`, model.FormatXGBoostJSON},
		{"xgboost, version first", ` {"version":[2,1,0],"learner":{}}`, model.FormatXGBoostJSON},
		{"linear", `{"type":"linear","features":["a"],"coefficients":[1]}`, model.FormatLinearJSON},
		{"other JSON", `{"weights":[1,2]}`, ""},
		{"JSON array", `[1,2]`, ""},
		{"empty", ``, ""},
		{"text", "trees\n", ""},
		{"ubjson", "{L\x00\x00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := model.DetectFormat([]byte(tt.data))
			if tt.want == "" {
				require.ErrorIs(t, err, model.ErrUnknownFormat)
				require.ErrorContains(t, err, "model: unknown format: cannot tell the format of the data")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestModelLoadErrors(t *testing.T) {
	lgb, err := os.ReadFile("testdata/lgb_reg.txt")
	require.NoError(t, err)
	tests := []struct {
		name    string
		format  string
		data    string
		kind    error
		message string
	}{
		{"unknown format", "onnx", "x", model.ErrUnknownFormat, `model: unknown format "onnx" (want xgboost-json, lightgbm or linear-json)`},
		{"undetectable", "", "hello", model.ErrUnknownFormat, "model: unknown format: cannot tell the format of the data (want xgboost-json, lightgbm or linear-json)"},
		{"wrong format named", model.FormatXGBoostJSON, string(lgb), model.ErrInvalidModel,
			"model: xgboost-json: offset 2 (line 1, column 3): malformed JSON: invalid character 'e' in literal true (expecting 'u') (the data looks like a lightgbm model)"},
		{"corrupt detected", "", "tree\nversion=v3\n", model.ErrInvalidModel, `model: lightgbm: line 2: unexpected end of file in the header (no trees, no "end of trees")`},
		{"unsupported", model.FormatLinearJSON, `{"type":"probit","features":[],"coefficients":[]}`, model.ErrUnsupported, `model: linear-json: type: "probit" (want "linear" or "logistic")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := model.Load(tt.format, []byte(tt.data))
			require.Nil(t, r)
			require.ErrorIs(t, err, tt.kind)
			require.EqualError(t, err, tt.message)
		})
	}
}

func TestModelPredictChecked(t *testing.T) {
	r, err := model.Load("", []byte(`{"type":"linear","features":["a","b"],"coefficients":[1,2],"intercept":1}`))
	require.NoError(t, err)
	tests := []struct {
		row  []float64
		want float64
		err  string
	}{
		{[]float64{1, 1}, 4, ""},
		{[]float64{1, math.NaN()}, 2, ""},
		{[]float64{1}, 0, "model: wrong number of features: row has 1 values, the model expects 2"},
		{nil, 0, "model: wrong number of features: row has 0 values, the model expects 2"},
		{[]float64{1, 2, 3}, 0, "model: wrong number of features: row has 3 values, the model expects 2"},
	}
	for _, tt := range tests {
		got, err := model.PredictChecked(r, tt.row)
		if tt.err != "" {
			require.ErrorIs(t, err, model.ErrFeatureCount)
			require.EqualError(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}

	out := make([]float64, 2)
	require.NoError(t, model.PredictBatchChecked(r, [][]float64{{1, 1}, {0, 0}}, out))
	require.Equal(t, []float64{4, 1}, out)
	err = model.PredictBatchChecked(r, [][]float64{{1, 1}, {0}}, out)
	require.EqualError(t, err, "model: wrong number of features: row 1 has 1 values, the model expects 2")
	err = model.PredictBatchChecked(r, [][]float64{{1, 1}, {0, 0}, {1, 1}}, out)
	require.EqualError(t, err, "model: 3 rows but room for 2 predictions")
}

func ExampleLoad() {
	coefficients := []byte(`{
	  "type": "logistic",
	  "features": ["views", "price_ratio"],
	  "coefficients": [0.02, -3.0],
	  "intercept": 2.5,
	  "missing": [40, 1.0]
	}`)
	r, err := model.Load("", coefficients) // the format is detected
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Info().Format, r.Info().Objective, r.Info().Output, r.FeatureNames())

	p, err := model.PredictChecked(r, []float64{50, math.NaN()}) // price_ratio missing: 1.0
	fmt.Printf("%.4f %v\n", p, err)

	_, err = model.PredictChecked(r, []float64{50})
	fmt.Println(errors.Is(err, model.ErrFeatureCount), err)
	// Output:
	// linear-json logistic probability [views price_ratio]
	// 0.6225 <nil>
	// true model: wrong number of features: row has 1 values, the model expects 2
}
