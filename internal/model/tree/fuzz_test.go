package tree_test

import (
	"os"
	"testing"

	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/model/tree"
)

// addSeeds adds the named fixture files (made by the real XGBoost, or by
// gen.py's LightGBM writer) and docs to the seed corpus. More inputs,
// among them those found by earlier fuzzing, are in testdata/fuzz.
func addSeeds(f *testing.F, files []string, docs ...string) {
	for _, name := range files {
		data, err := os.ReadFile(testdata + "/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, d := range docs {
		f.Add([]byte(d))
	}
}

// FuzzLoadXGBoostJSON: no input makes the loader panic, every error is a
// *model.LoadError, and a model that loads predicts any row without
// panicking.
func FuzzLoadXGBoostJSON(f *testing.F) {
	addSeeds(f, []string{"xgb_reg.json", "xgb_binary.json", "xgb_reglogistic.json", "xgb_categorical.json"},
		minimalXGB, `{"learner":{}}`, `{"learner":{"x":NaN}}`, `[Infinity,-Infinity]`)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := tree.LoadXGBoostJSON(data)
		if err != nil {
			modeltest.CheckLoad(t, nil, err, data)
			return
		}
		modeltest.CheckLoad(t, e, nil, data)
	})
}

// FuzzLoadLightGBM is FuzzLoadXGBoostJSON for LightGBM text models.
func FuzzLoadLightGBM(f *testing.F) {
	addSeeds(f, []string{"lgb_reg.txt", "lgb_binary.txt"}, minimalLGB, "tree\n", "tree\nversion=v4\nend of trees\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := tree.LoadLightGBM(data)
		if err != nil {
			modeltest.CheckLoad(t, nil, err, data)
			return
		}
		modeltest.CheckLoad(t, e, nil, data)
	})
}
