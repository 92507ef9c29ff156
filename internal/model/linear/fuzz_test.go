package linear_test

import (
	"testing"

	"github.com/pricestream/pricestream/internal/model/linear"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

// FuzzLoad: no input makes the loader panic, every error is a
// *model.LoadError, and a model that loads predicts any row without
// panicking. Inputs found by earlier fuzzing are in testdata/fuzz.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"linear_reg.json", "linear_logistic.json"} {
		f.Add(readFile(f, name))
	}
	f.Add([]byte(`{"type":"linear","features":["a"],"coefficients":[1],"missing":[null]}`))
	f.Add([]byte(`{"type":"logistic","features":[],"coefficients":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := linear.Load(data)
		if err != nil {
			modeltest.CheckLoad(t, nil, err, data)
			return
		}
		modeltest.CheckLoad(t, m, nil, data)
	})
}
