package train_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model/train"
)

// pythonXGBoost returns a python3 that imports xgboost, or skips the test
// saying how to get one.
func pythonXGBoost(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; to compare with the real XGBoost, install it: apt-get install -y python3-xgboost")
	}
	// Debian's python3 first: a pyenv or venv python on PATH may lack it.
	for _, p := range []string{"/usr/bin/python3", py} {
		if exec.Command(p, "-c", "import xgboost").Run() == nil {
			return p
		}
	}
	t.Skip("python3 has no xgboost module; to compare with the real XGBoost, install it: apt-get install -y python3-xgboost (or pip install xgboost)")
	return ""
}

const predictScript = `
import sys, numpy as np, xgboost as xgb
b = xgb.Booster(model_file=sys.argv[1])
X = np.genfromtxt(sys.argv[2], delimiter=",", dtype=np.float64, missing_values="", filling_values=np.nan)
X = X.reshape(-1, int(b.num_features()))
print(",".join(b.feature_names))
print(b.num_boosted_rounds())
for p in b.predict(xgb.DMatrix(X, feature_names=b.feature_names, missing=np.nan)):
    print(repr(float(p)))
`

// TestTrainXGBoostPython loads the file with the real XGBoost (through
// python3) and compares its predictions, NaN included, with the model's.
func TestTrainXGBoostPython(t *testing.T) {
	py := pythonXGBoost(t)
	d := synth(4000, 1, 0.2, 11)
	rng := rand.New(rand.NewPCG(11, 11))
	for _, row := range d.Rows {
		if rng.IntN(20) == 0 {
			row[rng.IntN(3)] = math.NaN()
		}
	}
	m, _ := fit(t, d, train.Config{Trees: 30, Subsample: 0.8, Seed: 11, Monotone: pricingMonotone})
	dir := t.TempDir()
	modelFile := filepath.Join(dir, "model.json")
	require.NoError(t, os.WriteFile(modelFile, m.XGBoostJSON(), 0o644))
	var rows [][]float64
	var csv bytes.Buffer
	for i := range 1500 {
		row := d.Rows[i]
		if i >= 500 {
			row = randomRow(rng, d)
		}
		rows = append(rows, row)
		for j, v := range row {
			if j > 0 {
				csv.WriteByte(',')
			}
			if !math.IsNaN(v) {
				csv.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		csv.WriteByte('\n')
	}
	rowsFile := filepath.Join(dir, "rows.csv")
	require.NoError(t, os.WriteFile(rowsFile, csv.Bytes(), 0o644))
	out, err := exec.Command(py, "-c", predictScript, modelFile, rowsFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Equal(t, strings.Join(synthFeatures, ","), lines[0], "XGBoost reads the feature names")
	require.Equal(t, "30", lines[1])
	require.Len(t, lines[2:], len(rows))
	for i, s := range lines[2:] {
		got, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		want := m.Predict(rows[i])
		require.InDelta(t, want, got, 1e-6*max(1, math.Abs(want)), "row %d %v", i, rows[i])
	}
}

// TestTrainXGBFloat: floats are written as XGBoost writes them.
func TestTrainXGBFloat(t *testing.T) {
	d := train.Data{Features: []string{"x"}, Rows: [][]float64{{1}, {2}, {3}}, Labels: []float64{1.5, 1.5, 1.5}}
	m, _ := fit(t, d, train.Config{Trees: 1})
	js := string(m.XGBoostJSON())
	require.Contains(t, js, `"base_score":"1.5E0"`)
	require.Contains(t, js, `"sum_hessian":[3E0]`)
	require.Contains(t, js, `"split_conditions":[-0E0]`, "-G/(H+λ) of G = 0 is -0, as in XGBoost")
	require.Contains(t, js, `"parents":[2147483647]`)
}
