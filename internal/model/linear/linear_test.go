package linear_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/linear"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

const testdata = "../testdata"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	require.NoError(t, err)
	return data
}

// TestLinearFixtures runs the conformance suite on scikit-learn 1.2 models
// (a SimpleImputer + LinearRegression pipeline and a SimpleImputer +
// LogisticRegression one, testdata/gen.py) against scikit-learn's own
// predict and predict_proba, missing values included.
func TestLinearFixtures(t *testing.T) {
	tests := []struct {
		name   string
		typ    string
		output model.Output
	}{
		{"linear_reg", "linear", model.OutputRegression},
		{"linear_logistic", "logistic", model.OutputProbability},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := linear.Load(readFile(t, tt.name+".json"))
			require.NoError(t, err)
			require.Equal(t, model.Info{Format: "linear-json", Version: "1", Objective: tt.typ, Output: tt.output}, m.Info())
			require.Equal(t, []string{"views", "clicks", "add_to_cart", "purchases", "price", "price_ratio"}, m.FeatureNames())
			c := modeltest.ReadCases(t, filepath.Join(testdata, tt.name+".input.csv"), filepath.Join(testdata, tt.name+".expected.csv"))
			modeltest.Runtime(t, m, c)
		})
	}
}

func TestLinearPredict(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		row  []float64
		want float64
	}{
		{"linear", `{"type":"linear","features":["a","b"],"coefficients":[2,-1],"intercept":0.5}`, []float64{3, 4}, 2.5},
		{"no intercept", `{"type":"linear","features":["a","b"],"coefficients":[2,-1]}`, []float64{3, 4}, 2},
		{"missing counts as 0", `{"type":"linear","features":["a","b"],"coefficients":[2,-1],"intercept":0.5}`, []float64{math.NaN(), 4}, -3.5},
		{"imputed", `{"type":"linear","features":["a","b"],"coefficients":[2,-1],"intercept":0.5,"missing":[10,0]}`, []float64{math.NaN(), 4}, 16.5},
		{"short row imputed", `{"type":"linear","features":["a","b"],"coefficients":[2,-1],"intercept":0.5,"missing":[10,7]}`, []float64{1}, -4.5},
		{"logistic", `{"type":"logistic","features":["a"],"coefficients":[1],"intercept":0}`, []float64{0}, 0.5},
		{"logistic saturates", `{"type":"logistic","features":["a"],"coefficients":[1]}`, []float64{-1000}, 0},
		{"no features", `{"type":"linear","features":[],"coefficients":[],"intercept":3}`, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := linear.Load([]byte(tt.doc))
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Predict(tt.row))
		})
	}
}

func TestLinearErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		kind    error
		message string
	}{
		{"not JSON", `{"type":linear}`, model.ErrInvalidModel, "offset 8 (line 1, column 9): malformed JSON"},
		{"truncated", `{"type":"linear"`, model.ErrInvalidModel, "unexpected EOF"},
		{"unknown field", `{"type":"linear","features":[],"coefficients":[],"coefficent":1}`, model.ErrInvalidModel, `unknown field "coefficent"`},
		{"trailing data", `{"type":"linear","features":[],"coefficients":[]} {}`, model.ErrInvalidModel, "offset 51 (line 1, column 52): data after the model object"},
		{"no type", `{"features":[],"coefficients":[]}`, model.ErrInvalidModel, "type: missing"},
		{"type", `{"type":"poisson","features":[],"coefficients":[]}`, model.ErrUnsupported, `type: "poisson"`},
		{"no features", `{"type":"linear","coefficients":[]}`, model.ErrInvalidModel, "features: missing"},
		{"empty name", `{"type":"linear","features":["a",""],"coefficients":[1,2]}`, model.ErrInvalidModel, "features[1]: empty name"},
		{"duplicate name", `{"type":"linear","features":["a","a"],"coefficients":[1,2]}`, model.ErrInvalidModel, `features[1]: "a" repeats features[0]`},
		{"coefficients", `{"type":"linear","features":["a","b"],"coefficients":[1]}`, model.ErrInvalidModel, "coefficients: 1 values for 2 features"},
		{"missing length", `{"type":"linear","features":["a"],"coefficients":[1],"missing":[1,2]}`, model.ErrInvalidModel, "missing: 2 values for 1 features"},
		{"missing null", `{"type":"linear","features":["a"],"coefficients":[1],"missing":[null]}`, model.ErrInvalidModel, "missing[0]: null; want a number"},
		{"wrong type", `{"type":"linear","features":["a"],"coefficients":["1"]}`, model.ErrInvalidModel, "JSON string where coefficients expects float64"},
		{"overflow", `{"type":"linear","features":["a"],"coefficients":[1e400]}`, model.ErrInvalidModel, "JSON number 1e400 where coefficients expects float64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := linear.Load([]byte(tt.doc))
			require.ErrorIs(t, err, tt.kind)
			require.ErrorContains(t, err, tt.message)
			require.True(t, strings.HasPrefix(err.Error(), "model: linear-json: "), err.Error())
		})
	}
}
