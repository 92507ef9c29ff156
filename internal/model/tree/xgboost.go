package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/model/internal/base"
)

// The JSON document XGBoost writes with save_model("m.json") (1.x, 2.x and
// 3.x), reduced to what prediction needs.
type xgbDocument struct {
	Learner *xgbLearner `json:"learner"`
	Version []int       `json:"version"`
}

type xgbLearner struct {
	FeatureNames    []string `json:"feature_names"`
	GradientBooster *struct {
		Name  string        `json:"name"`
		Model *xgbTreeModel `json:"model"`
	} `json:"gradient_booster"`
	LearnerModelParam *struct {
		BaseScore  string `json:"base_score"`
		NumClass   string `json:"num_class"`
		NumFeature string `json:"num_feature"`
		NumTarget  string `json:"num_target"`
	} `json:"learner_model_param"`
	Objective *struct {
		Name string `json:"name"`
	} `json:"objective"`
}

type xgbTreeModel struct {
	Param *struct {
		NumTrees string `json:"num_trees"`
	} `json:"gbtree_model_param"`
	TreeInfo []int     `json:"tree_info"`
	Trees    []xgbTree `json:"trees"`
}

type xgbTree struct {
	LeftChildren       []int    `json:"left_children"`
	RightChildren      []int    `json:"right_children"`
	SplitIndices       []int    `json:"split_indices"`
	SplitConditions    floats32 `json:"split_conditions"`
	DefaultLeft        flags    `json:"default_left"`
	SplitType          []int    `json:"split_type"`
	Categories         []int64  `json:"categories"`
	CategoriesNodes    []int    `json:"categories_nodes"`
	CategoriesSegments []int64  `json:"categories_segments"`
	CategoriesSizes    []int64  `json:"categories_sizes"`
	TreeParam          *struct {
		NumNodes       string `json:"num_nodes"`
		SizeLeafVector string `json:"size_leaf_vector"`
	} `json:"tree_param"`
}

// floats32 decodes an array of float32 numbers as XGBoost writes them: JSON
// numbers, and the bare tokens NaN, Infinity and -Infinity, which are not
// JSON and which xgbSanitize has turned into the strings "N", "Infini" and
// "-Infini" beforehand. XGBoost writes NaN as the split_condition of a
// categorical split.
type floats32 []float32

func (f *floats32) UnmarshalJSON(data []byte) error {
	// encoding/json has checked the syntax of the whole document, so data
	// is a valid JSON value.
	s := bytes.TrimSpace(data)
	if string(s) == "null" {
		*f = nil
		return nil
	}
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return errors.New("split_conditions is not an array")
	}
	s = bytes.TrimSpace(s[1 : len(s)-1])
	if len(s) == 0 {
		*f = floats32{}
		return nil
	}
	out := make([]float32, 0, bytes.Count(s, []byte{','})+1)
	for i := 0; len(s) > 0; i++ {
		var tok []byte
		if k := bytes.IndexByte(s, ','); k >= 0 {
			tok, s = bytes.TrimSpace(s[:k]), s[k+1:]
		} else {
			tok, s = bytes.TrimSpace(s), nil
		}
		var v float32
		switch string(tok) {
		case `"N"`:
			v = float32(math.NaN())
		case `"Infini"`:
			v = float32(math.Inf(1))
		case `"-Infini"`:
			v = float32(math.Inf(-1))
		default:
			if len(tok) == 0 || !(tok[0] == '-' || tok[0] >= '0' && tok[0] <= '9') {
				return fmt.Errorf("split_conditions[%d]: %.20q is not a number", i, tok)
			}
			x, err := strconv.ParseFloat(string(tok), 32)
			if err != nil {
				return fmt.Errorf("split_conditions[%d]: %.20q is not a float32", i, tok)
			}
			v = float32(x)
		}
		out = append(out, v)
	}
	*f = out
	return nil
}

// xgbSanitize returns data with the bare tokens NaN, Infinity and -Infinity
// that XGBoost's JSON writer emits for non-finite floats (outside strings)
// replaced by the JSON strings "N", "Infini" and "-Infini" of the same
// length, so that encoding/json accepts the document and byte offsets in
// its errors stay right. It copies data only if it has such tokens.
func xgbSanitize(data []byte) []byte {
	var out []byte
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		var repl string
		switch {
		case c == '"':
			inString = true
			continue
		case c == 'N' && bytes.HasPrefix(data[i:], []byte("NaN")):
			repl = `"N"`
		case c == 'I' && bytes.HasPrefix(data[i:], []byte("Infinity")):
			repl = `"Infini"`
		case c == '-' && bytes.HasPrefix(data[i:], []byte("-Infinity")):
			repl = `"-Infini"`
		default:
			continue
		}
		if out == nil {
			out = bytes.Clone(data)
		}
		copy(out[i:], repl)
		i += len(repl) - 1
	}
	if out == nil {
		return data
	}
	return out
}

// flags decodes default_left, which XGBoost writes as an array of 0 and 1;
// true and false are accepted too.
type flags []bool

func (f *flags) UnmarshalJSON(data []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make([]bool, len(raw))
	for i, r := range raw {
		switch string(r) {
		case "0", "false":
		case "1", "true":
			out[i] = true
		default:
			return fmt.Errorf("default_left[%d]: %s is not 0 or 1", i, r)
		}
	}
	*f = out
	return nil
}

// LoadXGBoostJSON loads a model that XGBoost (1.x, 2.x or 3.x) saved as JSON
// with save_model("m.json"): a gbtree booster with one output and objective
// reg:squarederror (or its old name reg:linear), reg:logistic or
// binary:logistic.
//
// Predictions match XGBoost's own to the bit: a split goes left iff
// float32(x) < split_condition, a missing value (NaN) takes the split's
// default direction, categorical splits send the categories in their set
// right, and the margin is summed in float32, starting from base_score (for
// the logistic objectives logit(base_score) computed as XGBoost does), tree
// by tree in file order; the logistic objectives apply XGBoost's float32
// sigmoid.
//
// Every tree in the file counts, as in Booster.predict. A model saved after
// early stopping still holds the trees past best_iteration; save
// booster[:best_iteration+1] to serve only the best ones.
//
// A malformed file gives an error wrapping model.ErrInvalidModel, a
// well-formed one that needs something unimplemented (multi-class or
// multi-target models, the dart or gblinear boosters, other objectives) an
// error wrapping model.ErrUnsupported; both are *model.LoadError.
func LoadXGBoostJSON(data []byte) (*Ensemble, error) {
	const format = base.FormatXGBoostJSON
	var doc xgbDocument
	data = xgbSanitize(data)
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, base.JSONError(format, data, err)
	}
	invalid := func(pos string, f string, args ...any) error {
		return base.Invalid(format, pos, fmt.Errorf(f, args...))
	}
	unsupported := func(pos string, f string, args ...any) error {
		return base.Unsupported(format, pos, fmt.Errorf(f, args...))
	}
	l := doc.Learner
	if l == nil {
		return nil, invalid("", "no learner object (not an XGBoost JSON model)")
	}
	if l.GradientBooster == nil {
		return nil, invalid("learner", "no gradient_booster object")
	}
	if name := l.GradientBooster.Name; name != "gbtree" {
		return nil, unsupported("learner.gradient_booster.name", "booster %q (only gbtree is supported)", name)
	}
	m := l.GradientBooster.Model
	if m == nil {
		return nil, invalid("learner.gradient_booster", "no model object")
	}
	p := l.LearnerModelParam
	if p == nil {
		return nil, invalid("learner", "no learner_model_param object")
	}
	if l.Objective == nil {
		return nil, invalid("learner", "no objective object")
	}

	numFeatures, err := xgbInt(p.NumFeature)
	if err != nil {
		return nil, invalid("learner.learner_model_param.num_feature", "%v", err)
	}
	if numFeatures < 0 || numFeatures > maxFeatures {
		return nil, invalid("learner.learner_model_param.num_feature", "%d out of range [0, %d]", numFeatures, maxFeatures)
	}
	if p.NumClass != "" {
		n, err := xgbInt(p.NumClass)
		if err != nil {
			return nil, invalid("learner.learner_model_param.num_class", "%v", err)
		}
		if n > 1 {
			return nil, unsupported("learner.learner_model_param.num_class", "%d classes (only single-output models are supported)", n)
		}
	}
	if p.NumTarget != "" {
		n, err := xgbInt(p.NumTarget)
		if err != nil {
			return nil, invalid("learner.learner_model_param.num_target", "%v", err)
		}
		if n > 1 {
			return nil, unsupported("learner.learner_model_param.num_target", "%d targets (only single-output models are supported)", n)
		}
	}
	if len(l.FeatureNames) == 0 {
		l.FeatureNames = nil // XGBoost writes [] for a model without names
	}
	if l.FeatureNames != nil && len(l.FeatureNames) != numFeatures {
		return nil, invalid("learner.feature_names", "%d names for %d features", len(l.FeatureNames), numFeatures)
	}
	score, err := xgbBaseScore(p.BaseScore)
	if err != nil {
		return nil, invalid("learner.learner_model_param.base_score", "%v", err)
	}

	spec := ensembleSpec{
		format:       format,
		numFeatures:  numFeatures,
		featureNames: l.FeatureNames,
		sum32:        true,
		info: base.Info{
			Format:    format,
			Version:   xgbVersion(doc.Version),
			Objective: l.Objective.Name,
			NumTrees:  len(m.Trees),
		},
	}
	switch obj := l.Objective.Name; obj {
	case "reg:squarederror", "reg:linear":
		spec.base = float64(score)
		spec.info.Output = base.OutputRegression
	case "reg:logistic", "binary:logistic":
		// RegLossObj<LogisticRegression>::ProbToMargin:
		// -logf(1.0f / base_score - 1.0f), in float32.
		if !(score > 0 && score < 1) {
			return nil, invalid("learner.learner_model_param.base_score", "%v is not in (0, 1) as %s requires", score, obj)
		}
		spec.base = float64(-float32(math.Log(float64(1/score - 1))))
		spec.link = linkSigmoid32
		spec.info.Output = base.OutputProbability
	default:
		return nil, unsupported("learner.objective.name", "objective %q (supported: reg:squarederror, reg:logistic, binary:logistic)", obj)
	}

	if m.Param != nil && m.Param.NumTrees != "" {
		n, err := xgbInt(m.Param.NumTrees)
		if err != nil {
			return nil, invalid("learner.gradient_booster.model.gbtree_model_param.num_trees", "%v", err)
		}
		if n != len(m.Trees) {
			return nil, invalid("learner.gradient_booster.model.gbtree_model_param.num_trees", "says %d trees, the model has %d", n, len(m.Trees))
		}
	}
	if m.TreeInfo != nil && len(m.TreeInfo) != len(m.Trees) {
		return nil, invalid("learner.gradient_booster.model.tree_info", "%d entries for %d trees", len(m.TreeInfo), len(m.Trees))
	}
	for i, g := range m.TreeInfo {
		if g != 0 {
			return nil, unsupported(fmt.Sprintf("learner.gradient_booster.model.tree_info[%d]", i), "tree of output group %d (only single-output models are supported)", g)
		}
	}

	trees := make([]rawTree, len(m.Trees))
	bitsetWords := 0
	for i := range m.Trees {
		t, err := xgbConvertTree(&m.Trees[i], i, &bitsetWords)
		if err != nil {
			return nil, err
		}
		trees[i] = t
	}
	return build(spec, trees)
}

// xgbConvertTree checks the parallel arrays of one tree and converts them.
func xgbConvertTree(t *xgbTree, ti int, bitsetWords *int) (rawTree, error) {
	const format = base.FormatXGBoostJSON
	pos := fmt.Sprintf("tree %d", ti)
	invalid := func(f string, args ...any) error {
		return base.Invalid(format, pos, fmt.Errorf(f, args...))
	}
	n := len(t.LeftChildren)
	if n == 0 {
		return rawTree{}, invalid("no nodes (left_children is empty)")
	}
	if t.TreeParam != nil {
		if t.TreeParam.NumNodes != "" {
			nn, err := xgbInt(t.TreeParam.NumNodes)
			if err != nil {
				return rawTree{}, invalid("tree_param.num_nodes: %v", err)
			}
			if nn != n {
				return rawTree{}, invalid("tree_param.num_nodes says %d nodes, left_children has %d", nn, n)
			}
		}
		if t.TreeParam.SizeLeafVector != "" {
			sz, err := xgbInt(t.TreeParam.SizeLeafVector)
			if err != nil {
				return rawTree{}, invalid("tree_param.size_leaf_vector: %v", err)
			}
			if sz > 1 {
				return rawTree{}, base.Unsupported(format, pos, fmt.Errorf("vector leaves (size_leaf_vector %d)", sz))
			}
		}
	}
	for _, a := range []struct {
		name string
		len  int
	}{
		{"right_children", len(t.RightChildren)},
		{"split_indices", len(t.SplitIndices)},
		{"split_conditions", len(t.SplitConditions)},
		{"default_left", len(t.DefaultLeft)},
	} {
		if a.len != n {
			return rawTree{}, invalid("%s has %d entries, left_children %d", a.name, a.len, n)
		}
	}
	if t.SplitType != nil && len(t.SplitType) != n {
		return rawTree{}, invalid("split_type has %d entries, left_children %d", len(t.SplitType), n)
	}

	// Category sets: node categories_nodes[k] holds categories
	// categories[categories_segments[k] : +categories_sizes[k]].
	var cats map[int][]uint32
	if len(t.CategoriesNodes) != len(t.CategoriesSegments) || len(t.CategoriesNodes) != len(t.CategoriesSizes) {
		return rawTree{}, invalid("categories_nodes, categories_segments and categories_sizes differ in length (%d, %d, %d)",
			len(t.CategoriesNodes), len(t.CategoriesSegments), len(t.CategoriesSizes))
	}
	for k, nid := range t.CategoriesNodes {
		seg, size := t.CategoriesSegments[k], t.CategoriesSizes[k]
		if nid < 0 || nid >= n {
			return rawTree{}, invalid("categories_nodes[%d]: node %d out of range [0, %d)", k, nid, n)
		}
		if seg < 0 || size < 0 || seg > int64(len(t.Categories)) || size > int64(len(t.Categories))-seg {
			return rawTree{}, invalid("categories of node %d: segment [%d, +%d) out of range [0, %d)", nid, seg, size, len(t.Categories))
		}
		if cats == nil {
			cats = make(map[int][]uint32)
		}
		if _, dup := cats[nid]; dup {
			return rawTree{}, invalid("categories_nodes lists node %d twice", nid)
		}
		var bits []uint32
		for _, c := range t.Categories[seg : seg+size] {
			if c < 0 || c >= 1<<24 {
				return rawTree{}, invalid("node %d: category %d out of range [0, 2^24)", nid, c)
			}
			w := int(c / 32)
			if w >= len(bits) {
				*bitsetWords += w + 1 - len(bits)
				if *bitsetWords > maxBitsetWords {
					return rawTree{}, invalid("category sets too large (over %d words)", maxBitsetWords)
				}
				bits = append(bits, make([]uint32, w+1-len(bits))...)
			}
			bits[w] |= 1 << (c % 32)
		}
		cats[nid] = bits
	}

	nodes := make([]rawNode, n)
	for i := range nodes {
		l, r := t.LeftChildren[i], t.RightChildren[i]
		if l == -1 {
			if r != -1 {
				return rawTree{}, invalid("node %d: left child -1 (a leaf) but right child %d", i, r)
			}
			nodes[i] = rawNode{leaf: true, value: float64(t.SplitConditions[i])}
			continue
		}
		rn := rawNode{
			feature:     t.SplitIndices[i],
			left:        l,
			right:       r,
			defaultLeft: t.DefaultLeft[i],
		}
		st := 0
		if t.SplitType != nil {
			st = t.SplitType[i]
		}
		switch st {
		case 0:
			rn.threshold = lessThanFloat32(t.SplitConditions[i])
		case 1:
			bits, ok := cats[i]
			if !ok {
				return rawTree{}, invalid("node %d: categorical split without categories", i)
			}
			rn.sp = &special{kind: xgboostCategorical, bits: bits}
		default:
			return rawTree{}, invalid("node %d: unknown split_type %d", i, st)
		}
		nodes[i] = rn
	}
	return rawTree{nodes: nodes}, nil
}

// xgbInt parses the decimal strings XGBoost writes for integer parameters.
func xgbInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// xgbBaseScore parses base_score: a float32 as a string, "5E-1" (1.x, 2.x)
// or a one-element list "[5E-1]" (3.x).
func xgbBaseScore(s string) (float32, error) {
	v := s
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = v[1 : len(v)-1]
		if strings.Contains(v, ",") {
			return 0, fmt.Errorf("%q has several values (only single-output models are supported)", s)
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 32)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return float32(f), nil
}

func xgbVersion(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ".")
}
