package tree_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/model/tree"
)

// TestLightGBMFixtures runs the conformance suite on LightGBM text models.
// LightGBM has no Debian package, so these files were not written by
// LightGBM itself: testdata/gen.py writes explicit trees in the layout of
// LightGBM's SaveModelToString (version=v3 and v4 headers, numerical splits
// of every missing type, categorical splits) and computes the expected
// predictions independently, by a recursive walk that transliterates
// LightGBM's Tree::NumericalDecision and CategoricalDecision.
func TestLightGBMFixtures(t *testing.T) {
	tests := []struct {
		name      string
		version   string
		objective string
		output    model.Output
		features  int
	}{
		{"lgb_reg", "v3", "regression", model.OutputRegression, 6},
		{"lgb_binary", "v4", "binary sigmoid:1", model.OutputProbability, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tree.LoadLightGBM(readFile(t, tt.name+".txt"))
			require.NoError(t, err)
			require.Equal(t, model.Info{Format: "lightgbm", Version: tt.version, Objective: tt.objective, NumTrees: 31, Output: tt.output}, e.Info())
			require.Equal(t, tt.features, e.NumFeatures())
			require.Len(t, e.FeatureNames(), tt.features)
			require.Equal(t, "Column_0", e.FeatureNames()[0])
			modeltest.Runtime(t, e, cases(t, tt.name))
		})
	}
}

// TestLightGBMVersions: the v2, v3 and v4 layouts differ in nothing the
// runtime reads, so the same trees under each header predict the same.
func TestLightGBMVersions(t *testing.T) {
	for _, name := range []string{"lgb_reg", "lgb_binary"} {
		data := string(readFile(t, name+".txt"))
		c := cases(t, name)
		for _, v := range []string{"v2", "v3", "v4"} {
			mod := data
			for _, old := range []string{"version=v3\n", "version=v4\n"} {
				mod = strings.Replace(mod, old, "version="+v+"\n", 1)
			}
			e, err := tree.LoadLightGBM([]byte(mod))
			require.NoError(t, err, "%s %s", name, v)
			require.Equal(t, v, e.Info().Version)
			for i, row := range c.Rows {
				require.InDelta(t, c.Want[i], e.Predict(row), 1e-15, "%s %s case %d", name, v, i)
			}
		}
	}
}

// TestLightGBMObjectives checks the output transforms against the raw
// scores of the same trees.
func TestLightGBMObjectives(t *testing.T) {
	data := string(readFile(t, "lgb_reg.txt"))
	raw, err := tree.LoadLightGBM([]byte(data))
	require.NoError(t, err)
	c := cases(t, "lgb_reg")

	load := func(old, new string) *tree.Ensemble {
		t.Helper()
		require.Contains(t, data, old)
		e, err := tree.LoadLightGBM([]byte(strings.Replace(data, old, new, 1)))
		require.NoError(t, err)
		return e
	}
	sigmoid2 := load("objective=regression\n", "objective=binary sigmoid:2\n")
	avg := load("objective=regression\n", "objective=regression\naverage_output\n")
	custom := load("objective=regression\n", "")
	for _, name := range []string{"regression_l1", "huber", "fair", "quantile", "mape"} {
		e := load("objective=regression\n", "objective="+name+"\n")
		require.Equal(t, raw.Predict(c.Rows[3]), e.Predict(c.Rows[3]), name)
	}
	require.Equal(t, model.OutputProbability, sigmoid2.Info().Output)
	require.Equal(t, "", custom.Info().Objective)
	for i, row := range c.Rows {
		s := raw.Predict(row)
		require.Equal(t, 1/(1+math.Exp(-2*s)), sigmoid2.Predict(row), "case %d", i)
		require.Equal(t, s/31, avg.Predict(row), "case %d", i)
		require.Equal(t, s, custom.Predict(row), "case %d", i)
	}
}

// minimalLGB: node 0 splits feature 0 at 0.5 (missing type None, so NaN
// reads as 0 and goes left) into leaf 0 and node 1; node 1 splits feature 1
// at -1 (missing type NaN, default right) into leaves 1 and 2.
const minimalLGB = `tree
version=v3
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=regression
feature_names=a b
feature_infos=[0:1] [-2:2]
tree_sizes=361

Tree=0
num_leaves=3
num_cat=0
split_feature=0 1
split_gain=1 1
threshold=0.5 -1
decision_type=0 8
left_child=-1 -2
right_child=1 -3
leaf_value=1 2 3
leaf_weight=1 1 1
leaf_count=1 1 1
internal_value=0 0
internal_weight=0 0
internal_count=3 2
is_linear=0
shrinkage=1


end of trees

feature importances:
a=1
b=1

parameters:
[boosting: gbdt]
end of parameters

pandas_categorical:null
`

func TestLightGBMDecisions(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name     string
		old, new string // replaced in minimalLGB
		a, b     float64
		want     float64
	}{
		{"left", "", "", 0.5, 0, 1},
		{"right then left", "", "", 0.6, -1, 2},
		{"right then right", "", "", 0.6, -0.5, 3},
		{"None: NaN reads as 0", "", "", nan, 5, 1},
		{"NaN type: NaN takes default right", "", "", 1, nan, 3},
		{"NaN type default left", "decision_type=0 8", "decision_type=0 10", 1, nan, 2},
		{"None: NaN as 0 goes right", "threshold=0.5 -1", "threshold=-0.5 -1", nan, -2, 2},
		{"Zero: 0 is missing, default left", "decision_type=0 8", "decision_type=0 6", 1, 0, 2},
		{"Zero: tiny is missing", "decision_type=0 8", "decision_type=0 6", 1, 1e-36, 2},
		{"Zero: NaN is missing", "decision_type=0 8", "decision_type=0 6", 1, nan, 2},
		{"Zero: other values compare", "decision_type=0 8", "decision_type=0 6", 1, 0.5, 3},
		{"Zero default right", "decision_type=0 8", "decision_type=0 4", 1, -1e-36, 3},
		{"threshold +Inf", "threshold=0.5 -1", "threshold=inf -1", inf, 0, 1},
		{"threshold -Inf", "threshold=0.5 -1", "threshold=-inf -1", math.Inf(-1), 0, 1},
		{"threshold -Inf, finite", "threshold=0.5 -1", "threshold=-inf -1", -1e308, -5, 2},
		{"categorical in set", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", 2, 0, 1},
		{"categorical not in set", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", 1, 0, 3},
		{"categorical second word", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", 32, 0, 1},
		{"categorical truncates", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", 2.9, 0, 1},
		{"categorical -0.5 is 0", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", -0.5, 0, 1},
		{"categorical negative", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", -1, 0, 3},
		{"categorical beyond bitset", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", 64, 0, 3},
		{"categorical NaN goes right", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", nan, 0, 3},
		{"categorical huge", "decision_type=0 8\n", "decision_type=1 8\ncat_boundaries=0 2\ncat_threshold=5 1\n", 1 << 32, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := minimalLGB
			if tt.old != "" {
				require.Contains(t, doc, tt.old)
				doc = strings.Replace(doc, tt.old, tt.new, 1)
				if strings.Contains(tt.new, "cat_boundaries") {
					doc = strings.Replace(doc, "num_cat=0", "num_cat=1", 1)
					doc = strings.Replace(doc, "threshold=0.5 -1", "threshold=0 -1", 1)
				}
			}
			e, err := tree.LoadLightGBM([]byte(doc))
			require.NoError(t, err)
			require.Equal(t, tt.want, e.Predict([]float64{tt.a, tt.b}))
		})
	}
}

func TestLightGBMSingleLeaf(t *testing.T) {
	doc := strings.Replace(minimalLGB, `num_leaves=3
num_cat=0
split_feature=0 1
split_gain=1 1
threshold=0.5 -1
decision_type=0 8
left_child=-1 -2
right_child=1 -3
leaf_value=1 2 3`, `num_leaves=1
num_cat=0
split_feature=
split_gain=
threshold=
decision_type=
left_child=
right_child=
leaf_value=0.25`, 1)
	e, err := tree.LoadLightGBM([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, 0.25, e.Predict([]float64{1, 2}))
}

func TestLightGBMCRLF(t *testing.T) {
	e, err := tree.LoadLightGBM([]byte(strings.ReplaceAll(minimalLGB, "\n", "\r\n")))
	require.NoError(t, err)
	require.Equal(t, 3.0, e.Predict([]float64{0.6, -0.5}))
}

func TestLightGBMErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replaced in minimalLGB
		kind     error
		message  string
	}{
		{"empty", minimalLGB, "", model.ErrInvalidModel, "empty file"},
		{"not lightgbm", "tree\nversion", "{\"a\":1}\nversion", model.ErrInvalidModel, `line 1: first line is "{\"a\":1}", want "tree"`},
		{"no version", "version=v3\n", "", model.ErrInvalidModel, "header: no version line"},
		{"version", "version=v3", "version=v9", model.ErrUnsupported, "line 2: version=v9"},
		{"multiclass", "num_class=1", "num_class=3", model.ErrUnsupported, "line 3: num_class=3"},
		{"trees per iteration", "num_tree_per_iteration=1", "num_tree_per_iteration=2", model.ErrUnsupported, "num_tree_per_iteration=2"},
		{"max_feature_idx", "max_feature_idx=1", "max_feature_idx=x", model.ErrInvalidModel, `line 6: max_feature_idx="x"`},
		{"feature names", "feature_names=a b", "feature_names=a", model.ErrInvalidModel, "feature_names lists 1 names for 2 features"},
		{"objective", "objective=regression", "objective=multiclass num_class:3", model.ErrUnsupported, `objective "multiclass num_class:3"`},
		{"reg sqrt", "objective=regression", "objective=regression sqrt", model.ErrUnsupported, "reg_sqrt"},
		{"sigmoid", "objective=regression", "objective=binary sigmoid:-1", model.ErrInvalidModel, `sigmoid "-1" is not a positive number`},
		{"no trees", "tree_sizes=361\n\nTree=0", "tree_sizes=361\n\nTreeX=0", model.ErrInvalidModel, "line 10: tree_sizes lists 1 trees, the file has 0"},
		{"tree index", "Tree=0", "Tree=1", model.ErrInvalidModel, `line 12: "Tree=1": want Tree=0`},
		{"no end of trees", "\nend of trees", "", model.ErrInvalidModel, `line 32: "feature importances:": want Tree=1 or "end of trees"`},
		{"truncated", "end of trees\n\nfeature importances:\na=1\nb=1\n\nparameters:\n[boosting: gbdt]\nend of parameters\n\npandas_categorical:null\n", "", model.ErrInvalidModel, `unexpected end of file after Tree=0 (no "end of trees")`},
		{"header only", "\nTree=0\n", "\nend of trees\nTree=0\n", model.ErrInvalidModel, "tree_sizes lists 1 trees, the file has 0"},
		{"tree_sizes", "tree_sizes=361", "tree_sizes=361 20", model.ErrInvalidModel, "tree_sizes lists 2 trees, the file has 1"},
		{"linear tree", "is_linear=0", "is_linear=1", model.ErrUnsupported, "line 27 (Tree=0): linear trees"},
		{"num_leaves", "num_leaves=3", "num_leaves=0", model.ErrInvalidModel, "num_leaves=0, want at least 1"},
		{"num_leaves huge", "num_leaves=3", "num_leaves=2000000000", model.ErrInvalidModel, "leaf_value has 3 values, want 2000000000"},
		{"no leaf_value", "leaf_value=1 2 3\n", "", model.ErrInvalidModel, "line 12 (Tree=0): no leaf_value line"},
		{"count", "split_feature=0 1", "split_feature=0", model.ErrInvalidModel, "line 15 (Tree=0): split_feature has 1 values, want 2"},
		{"threshold syntax", "threshold=0.5 -1", "threshold=0.5 -1x", model.ErrInvalidModel, `line 17 (Tree=0): threshold value 1: "-1x" is not a number`},
		{"NaN threshold", "threshold=0.5 -1", "threshold=0.5 nan", model.ErrInvalidModel, "tree 0 node 1: threshold is NaN"},
		{"NaN leaf", "leaf_value=1 2 3", "leaf_value=1 nan 3", model.ErrInvalidModel, "leaf value NaN is not a finite number"},
		{"decision type", "decision_type=0 8", "decision_type=0 12", model.ErrInvalidModel, "decision_type of node 1: 12 is not a valid decision type"},
		{"feature", "split_feature=0 1", "split_feature=0 2", model.ErrInvalidModel, "split feature 2 out of range [0, 2)"},
		{"internal child", "right_child=1 -3", "right_child=2 -3", model.ErrInvalidModel, "right_child of node 0: internal node 2 out of range [0, 2)"},
		{"leaf child", "right_child=1 -3", "right_child=1 -4", model.ErrInvalidModel, "right_child of node 1: leaf 3 out of range [0, 3)"},
		{"cycle", "right_child=1 -3", "right_child=0 -3", model.ErrInvalidModel, "child 0 is reached twice"},
		{"shared leaf", "right_child=1 -3", "right_child=1 -2", model.ErrInvalidModel, "is reached twice"},
		{"int overflow", "left_child=-1 -2", "left_child=-1 99999999999", model.ErrInvalidModel, `left_child value 1: "99999999999" is not a 32-bit integer`},
		{"categorical without sets", "decision_type=0 8", "decision_type=1 8", model.ErrInvalidModel, "threshold of categorical node 0: 0.5 is not a category set index in [0, 0)"},
		{"cat_boundaries", "num_cat=0\n", "num_cat=1\ncat_boundaries=0 3\ncat_threshold=1 2\n", model.ErrInvalidModel, "cat_boundaries must run from 0 to the 2 values of cat_threshold"},
		{"cat_boundaries order", "num_cat=0\n", "num_cat=2\ncat_boundaries=0 2 1\ncat_threshold=1\n", model.ErrInvalidModel, "cat_boundaries"},
		{"cat_threshold word", "num_cat=0\n", "num_cat=1\ncat_boundaries=0 1\ncat_threshold=4294967296\n", model.ErrInvalidModel, `cat_threshold value 0: "4294967296" is not a 32-bit integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, minimalLGB, tt.old)
			_, err := tree.LoadLightGBM([]byte(strings.Replace(minimalLGB, tt.old, tt.new, 1)))
			require.ErrorIs(t, err, tt.kind)
			require.ErrorContains(t, err, tt.message)
			require.True(t, strings.HasPrefix(err.Error(), "model: lightgbm: "), err.Error())
		})
	}
}
