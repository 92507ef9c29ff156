package model_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

// FuzzModelLoad fuzzes format detection and the dispatch to the loaders:
// data is either an error (ErrUnknownFormat, or a loader's *LoadError) or a
// runtime that predicts any row without panicking.
func FuzzModelLoad(f *testing.F) {
	for _, name := range []string{"xgb_reg.json", "lgb_binary.txt", "linear_logistic.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := model.Load("", data)
		if errors.Is(err, model.ErrUnknownFormat) {
			return
		}
		modeltest.CheckLoad(t, r, err, data)
	})
}
