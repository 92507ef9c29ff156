package linear_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model/linear"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

// BenchmarkLinearPredict is one row through the scikit-learn logistic
// regression fixture (6 features, imputation, sigmoid), cycling through its
// 150 test rows.
func BenchmarkLinearPredict(b *testing.B) {
	m, err := linear.Load(readFile(b, "linear_logistic.json"))
	require.NoError(b, err)
	rows := modeltest.ReadCases(b, filepath.Join(testdata, "linear_logistic.input.csv"), filepath.Join(testdata, "linear_logistic.expected.csv")).Rows
	var sink float64
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		sink += m.Predict(rows[i])
		if i++; i == len(rows) {
			i = 0
		}
	}
	_ = sink
}
