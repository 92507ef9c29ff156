package tree_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/model/tree"
)

const testdata = "../testdata"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	require.NoError(t, err)
	return data
}

func cases(t testing.TB, name string) modeltest.Cases {
	t.Helper()
	return modeltest.ReadCases(t, filepath.Join(testdata, name+".input.csv"), filepath.Join(testdata, name+".expected.csv"))
}

var smallFeatures = []string{"views", "clicks", "add_to_cart", "purchases", "price", "price_ratio", "inventory", "trend"}

// TestXGBoostFixtures runs the conformance suite on models trained and
// saved by the real XGBoost 1.7.4 (testdata/gen.py), against XGBoost's own
// predictions, and checks that the ensemble reproduces them bit for bit.
func TestXGBoostFixtures(t *testing.T) {
	tests := []struct {
		name      string
		objective string
		trees     int
		output    model.Output
		features  []string
	}{
		{"xgb_reg", "reg:squarederror", 20, model.OutputRegression, smallFeatures},
		{"xgb_binary", "binary:logistic", 20, model.OutputProbability, smallFeatures},
		{"xgb_reglogistic", "reg:logistic", 20, model.OutputProbability, smallFeatures},
		{"xgb_categorical", "reg:squarederror", 20, model.OutputRegression, []string{"trend", "category", "price_ratio", "views"}},
		{"xgb_bench", "reg:squarederror", 100, model.OutputRegression, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tree.LoadXGBoostJSON(readFile(t, tt.name+".json"))
			require.NoError(t, err)
			require.Equal(t, model.Info{Format: "xgboost-json", Version: "1.7.4", Objective: tt.objective, NumTrees: tt.trees, Output: tt.output}, e.Info())
			if tt.features != nil {
				require.Equal(t, tt.features, e.FeatureNames())
			}
			c := cases(t, tt.name)
			modeltest.Runtime(t, e, c)
			for i, row := range c.Rows {
				require.Equal(t, c.Want[i], e.Predict(row), "case %d: not bit-exact", i)
			}
		})
	}
}

// TestXGBoostPlainWalkAgrees checks the flat evaluator against the plain
// recursive walk of the benchmarks, an independent reading of the same file.
func TestXGBoostPlainWalkAgrees(t *testing.T) {
	for _, name := range []string{"xgb_reg", "xgb_binary", "xgb_bench"} {
		data := readFile(t, name+".json")
		e, err := tree.LoadXGBoostJSON(data)
		require.NoError(t, err)
		p := loadPlain(t, data)
		c := cases(t, name)
		for i, row := range c.Rows {
			require.Equal(t, c.Want[i], p.predict(row), "%s case %d: plain walk", name, i)
			require.Equal(t, e.Predict(row), p.predict(row), "%s case %d", name, i)
		}
	}
}

// TestXGBoostNewerLayouts loads the 1.7 fixture rewritten the way XGBoost
// 2.x and 3.x lay out the same model (no real 2.x or 3.x is installable
// here): size_leaf_vector "1", iteration_indptr and a cats object in the
// model, base_score as a one-element list "[…]" (3.x), default_left as JSON
// booleans. The predictions must not change.
func TestXGBoostNewerLayouts(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, "xgb_reg.json"), &doc))
	learner := doc["learner"].(map[string]any)
	mp := learner["learner_model_param"].(map[string]any)
	gb := learner["gradient_booster"].(map[string]any)["model"].(map[string]any)
	trees := gb["trees"].([]any)
	indptr := make([]any, len(trees)+1)
	for i := range indptr {
		indptr[i] = i
	}

	rewrite := func(version []int, bracket, bools bool) []byte {
		doc["version"] = version
		score := strings.Trim(mp["base_score"].(string), "[]")
		if bracket {
			score = "[" + score + "]"
		}
		mp["base_score"] = score
		gb["iteration_indptr"] = indptr
		gb["cats"] = map[string]any{"enc": []any{}, "feature_segments": []any{}, "sorted_idx": []any{}}
		delete(gb["gbtree_model_param"].(map[string]any), "size_leaf_vector")
		for _, tr := range trees {
			m := tr.(map[string]any)
			m["tree_param"].(map[string]any)["size_leaf_vector"] = "1"
			dl := m["default_left"].([]any)
			for i, v := range dl {
				switch v := v.(type) {
				case float64:
					if bools {
						dl[i] = v == 1
					}
				case bool:
					if !bools {
						dl[i] = map[bool]int{false: 0, true: 1}[v]
					}
				}
			}
		}
		out, err := json.Marshal(doc)
		require.NoError(t, err)
		return out
	}
	c := cases(t, "xgb_reg")
	for _, tt := range []struct {
		name    string
		version []int
		bracket bool
		bools   bool
	}{
		{"2.1 layout", []int{2, 1, 4}, false, false},
		{"3.x layout", []int{3, 1, 0}, true, false},
		{"boolean default_left", []int{3, 1, 0}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tree.LoadXGBoostJSON(rewrite(tt.version, tt.bracket, tt.bools))
			require.NoError(t, err)
			for i, row := range c.Rows {
				require.Equal(t, c.Want[i], e.Predict(row), "case %d", i)
			}
		})
	}
}

// minimalXGB is a hand-written XGBoost 1.7 JSON model: one tree, feature 0
// < 0.5 goes to leaf 1 (value -1), else leaf 2 (value 1); NaN goes left.
const minimalXGB = `{"learner":{"attributes":{},"feature_names":["a","b"],"feature_types":[],
"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1","size_leaf_vector":"0"},
"tree_info":[0],"trees":[{"base_weights":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
"categories_sizes":[],"default_left":[1,0,0],"id":0,"left_children":[1,-1,-1],"loss_changes":[0,0,0],
"parents":[2147483647,0,0],"right_children":[2,-1,-1],"split_conditions":[5E-1,-1E0,1E0],"split_indices":[0,0,0],
"split_type":[0,0,0],"sum_hessian":[1,1,1],"tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":"3","size_leaf_vector":"0"}}]},
"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","boost_from_average":"1","num_class":"0","num_feature":"2","num_target":"1"},
"objective":{"name":"reg:squarederror","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}`

func TestXGBoostMinimal(t *testing.T) {
	e, err := tree.LoadXGBoostJSON([]byte(minimalXGB))
	require.NoError(t, err)
	tests := []struct {
		row  []float64
		want float64
	}{
		{[]float64{0.4, 0}, -0.5},
		{[]float64{0.5, 0}, 1.5},                    // equality goes right
		{[]float64{math.Nextafter(0.5, 0), 0}, 1.5}, // rounds to float32 0.5
		{[]float64{float64(math.Nextafter32(0.5, 0)), 0}, -0.5},
		{[]float64{math.NaN(), 0}, -0.5}, // default left
		{[]float64{math.Inf(1), 0}, 1.5},
		{[]float64{math.Inf(-1), 0}, -0.5},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, e.Predict(tt.row), "row %v", tt.row)
	}
	require.Equal(t, []string{"a", "b"}, e.FeatureNames())

	// A model trained without names has "feature_names":[].
	e, err = tree.LoadXGBoostJSON([]byte(strings.Replace(minimalXGB, `"feature_names":["a","b"]`, `"feature_names":[]`, 1)))
	require.NoError(t, err)
	require.Nil(t, e.FeatureNames())
	require.Equal(t, 2, e.NumFeatures())
}

// TestXGBoostNonFiniteTokens: XGBoost writes NaN and ±Infinity as bare
// tokens, which are not JSON; the loader must read them there and leave the
// same letters inside strings alone.
func TestXGBoostNonFiniteTokens(t *testing.T) {
	// A threshold of Infinity sends every finite value left.
	doc := strings.Replace(minimalXGB, `"split_conditions":[5E-1,`, `"split_conditions":[Infinity,`, 1)
	doc = strings.Replace(doc, `"feature_names":["a","b"]`, `"feature_names":["NaN","-Infinity"]`, 1)
	e, err := tree.LoadXGBoostJSON([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, []string{"NaN", "-Infinity"}, e.FeatureNames())
	require.Equal(t, -0.5, e.Predict([]float64{1e30, 0}))
	require.Equal(t, 1.5, e.Predict([]float64{math.Inf(1), 0}))

	// -Infinity sends everything right.
	doc = strings.Replace(minimalXGB, `"split_conditions":[5E-1,`, `"split_conditions":[-Infinity,`, 1)
	e, err = tree.LoadXGBoostJSON([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, 1.5, e.Predict([]float64{-1e30, 0}))

	// NaN as a leaf value is corrupt.
	doc = strings.Replace(minimalXGB, `"split_conditions":[5E-1,-1E0,`, `"split_conditions":[5E-1,NaN,`, 1)
	_, err = tree.LoadXGBoostJSON([]byte(doc))
	require.ErrorIs(t, err, model.ErrInvalidModel)
	require.ErrorContains(t, err, "tree 0 node 1: leaf value NaN is not a finite number")
}

func TestXGBoostErrors(t *testing.T) {
	tests := []struct {
		name    string
		old     string // replaced in minimalXGB by new
		new     string
		kind    error
		message string
	}{
		{"not JSON", `{"learner"`, `{learner`, model.ErrInvalidModel, "offset 1 (line 1, column 2): malformed JSON"},
		{"truncated", `"version":[1,7,4]}`, `"version":[1,7,4]`, model.ErrInvalidModel, "unexpected end of JSON input"},
		{"wrong type", `"left_children":[1,-1,-1]`, `"left_children":"1"`, model.ErrInvalidModel, "JSON string where learner.gradient_booster.model.trees.left_children expects []int"},
		{"no learner", `{"learner":`, `{"learnr":`, model.ErrInvalidModel, "no learner object"},
		{"dart", `"name":"gbtree"`, `"name":"dart"`, model.ErrUnsupported, `booster "dart"`},
		{"multiclass objective", `"reg:squarederror"`, `"multi:softprob"`, model.ErrUnsupported, `objective "multi:softprob"`},
		{"num_class", `"num_class":"0"`, `"num_class":"3"`, model.ErrUnsupported, "3 classes"},
		{"num_target", `"num_target":"1"`, `"num_target":"2"`, model.ErrUnsupported, "2 targets"},
		{"tree group", `"tree_info":[0]`, `"tree_info":[1]`, model.ErrUnsupported, "output group 1"},
		{"vector leaves", `"num_nodes":"3","size_leaf_vector":"0"`, `"num_nodes":"3","size_leaf_vector":"3"`, model.ErrUnsupported, "vector leaves"},
		{"bad num_feature", `"num_feature":"2","num_target"`, `"num_feature":"x","num_target"`, model.ErrInvalidModel, `num_feature: "x" is not an integer`},
		{"feature names", `"feature_names":["a","b"]`, `"feature_names":["a"]`, model.ErrInvalidModel, "1 names for 2 features"},
		{"base_score", `"base_score":"5E-1"`, `"base_score":"half"`, model.ErrInvalidModel, `base_score: "half" is not a finite number`},
		{"logistic base_score", `"base_score":"5E-1","boost_from_average":"1","num_class":"0","num_feature":"2","num_target":"1"},
"objective":{"name":"reg:squarederror"`, `"base_score":"1E0","boost_from_average":"1","num_class":"0","num_feature":"2","num_target":"1"},
"objective":{"name":"binary:logistic"`, model.ErrInvalidModel, "1 is not in (0, 1)"},
		{"num_trees", `"num_trees":"1"`, `"num_trees":"2"`, model.ErrInvalidModel, "says 2 trees, the model has 1"},
		{"num_nodes", `"num_nodes":"3"`, `"num_nodes":"4"`, model.ErrInvalidModel, "tree 0: tree_param.num_nodes says 4 nodes"},
		{"array lengths", `"split_indices":[0,0,0]`, `"split_indices":[0,0]`, model.ErrInvalidModel, "tree 0: split_indices has 2 entries, left_children 3"},
		{"child out of range", `"right_children":[2,-1,-1]`, `"right_children":[7,-1,-1]`, model.ErrInvalidModel, "tree 0 node 0: child 7 out of range [0, 3)"},
		{"negative child", `"right_children":[2,-1,-1]`, `"right_children":[-5,-1,-1]`, model.ErrInvalidModel, "child -5 out of range"},
		{"cycle", `"left_children":[1,-1,-1],`, `"left_children":[0,-1,-1],`, model.ErrInvalidModel, "child 0 is reached twice"},
		{"shared node", `"right_children":[2,-1,-1]`, `"right_children":[1,-1,-1]`, model.ErrInvalidModel, "child 1 is reached twice"},
		{"half leaf", `"right_children":[2,-1,-1]`, `"right_children":[2,-1,0]`, model.ErrInvalidModel, "node 2: left child -1 (a leaf) but right child 0"},
		{"feature out of range", `"split_indices":[0,0,0]`, `"split_indices":[2,0,0]`, model.ErrInvalidModel, "split feature 2 out of range [0, 2)"},
		{"default_left", `"default_left":[1,0,0]`, `"default_left":[2,0,0]`, model.ErrInvalidModel, "default_left[0]: 2 is not 0 or 1"},
		{"split condition", `"split_conditions":[5E-1,`, `"split_conditions":["x",`, model.ErrInvalidModel, `split_conditions[0]: "\"x\"" is not a number`},
		{"float32 overflow", `"split_conditions":[5E-1,`, `"split_conditions":[1E39,`, model.ErrInvalidModel, "is not a float32"},
		{"split type", `"split_type":[0,0,0]`, `"split_type":[2,0,0]`, model.ErrInvalidModel, "node 0: unknown split_type 2"},
		{"categorical without set", `"split_type":[0,0,0]`, `"split_type":[1,0,0]`, model.ErrInvalidModel, "node 0: categorical split without categories"},
		{"category out of range", `"categories":[],"categories_nodes":[],"categories_segments":[],
"categories_sizes":[]`, `"categories":[16777216],"categories_nodes":[0],"categories_segments":[0],
"categories_sizes":[1]`, model.ErrInvalidModel, "category 16777216 out of range"},
		{"category segment", `"categories":[],"categories_nodes":[],"categories_segments":[],
"categories_sizes":[]`, `"categories":[1],"categories_nodes":[0],"categories_segments":[0],
"categories_sizes":[2]`, model.ErrInvalidModel, "segment [0, +2) out of range [0, 1)"},
		{"category node", `"categories":[],"categories_nodes":[],"categories_segments":[],
"categories_sizes":[]`, `"categories":[1],"categories_nodes":[9],"categories_segments":[0],
"categories_sizes":[1]`, model.ErrInvalidModel, "node 9 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, minimalXGB, tt.old)
			_, err := tree.LoadXGBoostJSON([]byte(strings.Replace(minimalXGB, tt.old, tt.new, 1)))
			require.ErrorIs(t, err, tt.kind)
			require.ErrorContains(t, err, tt.message)
			require.True(t, strings.HasPrefix(err.Error(), "model: xgboost-json: "), err.Error())
			var le *model.LoadError
			require.ErrorAs(t, err, &le)
		})
	}
}

// TestXGBoostCategoricalHuge: a category set naming large categories is
// bounded, so a corrupt file cannot make the loader allocate gigabytes.
func TestXGBoostCategoricalHuge(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"learner":{"gradient_booster":{"name":"gbtree","model":{"trees":[`)
	for i := range 300 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],
"split_conditions":[NaN,1,2],"default_left":[0,0,0],"split_type":[1,0,0],
"categories":[16777215],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[1]}`)
	}
	b.WriteString(`]}},"learner_model_param":{"base_score":"0","num_feature":"1"},"objective":{"name":"reg:squarederror"}}}`)
	_, err := tree.LoadXGBoostJSON(b.Bytes())
	require.ErrorIs(t, err, model.ErrInvalidModel)
	require.ErrorContains(t, err, "category sets too large")
}
