package tree

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/model/internal/base"
)

// LoadLightGBM loads a LightGBM text model, as LightGBM's save_model
// (GBDT::SaveModelToString) writes it, with header version=v2, v3 or v4:
// one output (num_class=1) and objective regression, regression_l1, huber,
// fair, quantile, mape or binary (sigmoid:X), or no objective (a custom
// one: predictions are raw scores).
//
// Predictions follow LightGBM's Tree::Predict: a numerical split goes left
// iff x <= threshold, with its missing type (decision_type bits 2-3): None
// reads NaN as 0, Zero sends NaN and values within 1e-35 of zero the
// default way, NaN sends NaN the default way (decision_type bit 1).
// Categorical splits send a category in the split's bitset
// (cat_boundaries, cat_threshold) left, anything else, NaN and negative
// values included, right. Leaf values already include the shrinkage (as
// LightGBM writes them); the trees are summed in float64, divided by their
// number for average_output (random forest) models, and binary models apply
// 1/(1+exp(-sigmoid*score)).
//
// A malformed file gives an error wrapping model.ErrInvalidModel that names
// the line; a well-formed one that needs something unimplemented
// (multi-class models, linear trees, other objectives) an error wrapping
// model.ErrUnsupported; both are *model.LoadError.
func LoadLightGBM(data []byte) (*Ensemble, error) {
	p := lgbParser{data: data}
	return p.parse()
}

const lgbFormat = base.FormatLightGBM

// lgbField is one key=value line.
type lgbField struct {
	value string
	line  int
}

type lgbParser struct {
	data []byte
	pos  int
	line int // number of the line last returned by next
}

// next returns the next line without its line ending, or ok=false at the
// end of the input.
func (p *lgbParser) next() (line string, ok bool) {
	if p.pos >= len(p.data) {
		return "", false
	}
	rest := p.data[p.pos:]
	k := bytes.IndexByte(rest, '\n')
	if k < 0 {
		k = len(rest)
		p.pos = len(p.data)
	} else {
		p.pos += k + 1
	}
	p.line++
	return strings.TrimSuffix(string(rest[:k]), "\r"), true
}

func (p *lgbParser) invalid(line int, f string, args ...any) error {
	return base.Invalid(lgbFormat, fmt.Sprintf("line %d", line), fmt.Errorf(f, args...))
}

func (p *lgbParser) unsupported(line int, f string, args ...any) error {
	return base.Unsupported(lgbFormat, fmt.Sprintf("line %d", line), fmt.Errorf(f, args...))
}

func (p *lgbParser) parse() (*Ensemble, error) {
	// The first non-empty line names the model type: "tree" for every
	// GBDT variant (gbdt, dart, goss, rf).
	first := ""
	for {
		l, ok := p.next()
		if !ok {
			return nil, base.Invalid(lgbFormat, "", errors.New("empty file"))
		}
		if strings.TrimSpace(l) != "" {
			first = strings.TrimSpace(l)
			break
		}
	}
	if first != "tree" {
		return nil, p.invalid(p.line, "first line is %.40q, want \"tree\" (not a LightGBM text model)", first)
	}

	// Header: key=value lines up to the first tree.
	header := map[string]lgbField{}
	var pending string // a "Tree=" or "end of trees" line read ahead
	for {
		l, ok := p.next()
		if !ok {
			return nil, p.invalid(p.line, "unexpected end of file in the header (no trees, no \"end of trees\")")
		}
		if strings.HasPrefix(l, "Tree=") || l == "end of trees" {
			pending = l
			break
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		header[k] = lgbField{value: v, line: p.line}
	}
	spec, err := p.header(header)
	if err != nil {
		return nil, err
	}

	var trees []rawTree
	for {
		l := pending
		if l == "end of trees" {
			break
		}
		idx, err := strconv.Atoi(strings.TrimPrefix(l, "Tree="))
		if err != nil || idx != len(trees) {
			return nil, p.invalid(p.line, "%.40q: want Tree=%d", l, len(trees))
		}
		treeLine := p.line
		fields := map[string]lgbField{}
		for {
			l, ok := p.next()
			if !ok || strings.TrimSpace(l) == "" {
				break
			}
			k, v, found := strings.Cut(l, "=")
			if !found {
				return nil, p.invalid(p.line, "Tree=%d: %.40q is not key=value", idx, l)
			}
			fields[k] = lgbField{value: v, line: p.line}
		}
		t, err := p.tree(idx, treeLine, fields, spec.numFeatures)
		if err != nil {
			return nil, err
		}
		trees = append(trees, t)
		// Skip blank lines to the next tree or the end.
		for {
			l, ok := p.next()
			if !ok {
				return nil, p.invalid(p.line, "unexpected end of file after Tree=%d (no \"end of trees\")", idx)
			}
			if strings.TrimSpace(l) != "" {
				pending = l
				break
			}
		}
		if pending != "end of trees" && !strings.HasPrefix(pending, "Tree=") {
			return nil, p.invalid(p.line, "%.40q: want Tree=%d or \"end of trees\"", pending, idx+1)
		}
	}

	if f, ok := header["tree_sizes"]; ok {
		if n := len(strings.Fields(f.value)); n != len(trees) {
			return nil, p.invalid(f.line, "tree_sizes lists %d trees, the file has %d", n, len(trees))
		}
	}
	spec.info.NumTrees = len(trees)
	if spec.divisor != 0 {
		spec.divisor = float64(len(trees))
	}
	return build(spec, trees)
}

// header reads the model-level fields.
func (p *lgbParser) header(h map[string]lgbField) (ensembleSpec, error) {
	spec := ensembleSpec{format: lgbFormat, info: base.Info{Format: lgbFormat}}
	need := func(key string) (lgbField, error) {
		f, ok := h[key]
		if !ok {
			return f, base.Invalid(lgbFormat, "header", fmt.Errorf("no %s line", key))
		}
		return f, nil
	}
	v, err := need("version")
	if err != nil {
		return spec, err
	}
	switch v.value {
	case "v2", "v3", "v4":
		spec.info.Version = v.value
	default:
		return spec, p.unsupported(v.line, "version=%.20s (supported: v2, v3, v4)", v.value)
	}
	for _, key := range []string{"num_class", "num_tree_per_iteration"} {
		f, ok := h[key]
		if !ok {
			if key == "num_class" {
				return spec, base.Invalid(lgbFormat, "header", errors.New("no num_class line"))
			}
			continue
		}
		n, err := strconv.Atoi(f.value)
		if err != nil {
			return spec, p.invalid(f.line, "%s=%.20q is not an integer", key, f.value)
		}
		if n != 1 {
			return spec, p.unsupported(f.line, "%s=%d (only single-output models are supported)", key, n)
		}
	}
	mf, err := need("max_feature_idx")
	if err != nil {
		return spec, err
	}
	maxIdx, err := strconv.Atoi(mf.value)
	if err != nil || maxIdx < 0 || maxIdx >= maxFeatures {
		return spec, p.invalid(mf.line, "max_feature_idx=%.20q is not an integer in [0, %d)", mf.value, maxFeatures)
	}
	spec.numFeatures = maxIdx + 1
	if f, ok := h["feature_names"]; ok {
		names := strings.Fields(f.value)
		if len(names) != spec.numFeatures {
			return spec, p.invalid(f.line, "feature_names lists %d names for %d features", len(names), spec.numFeatures)
		}
		spec.featureNames = names
	}
	if _, ok := h["average_output"]; ok {
		spec.divisor = 1 // set to the number of trees once they are read
	}

	spec.info.Output = base.OutputRegression
	obj, ok := h["objective"]
	if !ok {
		return spec, nil // a custom objective: raw scores
	}
	spec.info.Objective = obj.value
	words := strings.Fields(obj.value)
	if len(words) == 0 {
		return spec, p.invalid(obj.line, "empty objective")
	}
	switch words[0] {
	case "regression", "regression_l1", "huber", "fair", "quantile", "mape":
		for _, w := range words[1:] {
			if w == "sqrt" {
				return spec, p.unsupported(obj.line, "objective %q (reg_sqrt)", obj.value)
			}
		}
	case "binary":
		spec.link = linkSigmoid
		spec.info.Output = base.OutputProbability
		spec.scale = 1
		for _, w := range words[1:] {
			if s, ok := strings.CutPrefix(w, "sigmoid:"); ok {
				x, err := strconv.ParseFloat(s, 64)
				if err != nil || !(x > 0) || math.IsInf(x, 0) {
					return spec, p.invalid(obj.line, "objective %q: sigmoid %.20q is not a positive number", obj.value, s)
				}
				spec.scale = x
			}
		}
	default:
		return spec, p.unsupported(obj.line, "objective %q (supported: regression, regression_l1, huber, fair, quantile, mape, binary)", obj.value)
	}
	return spec, nil
}

// tree converts the fields of one Tree= block.
func (p *lgbParser) tree(idx, treeLine int, f map[string]lgbField, numFeatures int) (rawTree, error) {
	invalidAt := func(line int, format string, args ...any) error {
		return base.Invalid(lgbFormat, fmt.Sprintf("line %d (Tree=%d)", line, idx), fmt.Errorf(format, args...))
	}
	field := func(key string) (lgbField, error) {
		v, ok := f[key]
		if !ok {
			return v, invalidAt(treeLine, "no %s line", key)
		}
		return v, nil
	}
	// ints reads want integers (any number if want < 0): int32 values, or
	// uint32 ones for the bitset words of cat_threshold.
	ints := func(key string, want int) ([]int, error) {
		v, err := field(key)
		if err != nil {
			return nil, err
		}
		words := strings.Fields(v.value)
		if want >= 0 && len(words) != want {
			return nil, invalidAt(v.line, "%s has %d values, want %d", key, len(words), want)
		}
		out := make([]int, len(words))
		for i, w := range words {
			var n int64
			var err error
			if key == "cat_threshold" {
				var u uint64
				u, err = strconv.ParseUint(w, 10, 32)
				n = int64(u)
			} else {
				n, err = strconv.ParseInt(w, 10, 32)
			}
			if err != nil {
				return nil, invalidAt(v.line, "%s value %d: %.20q is not a 32-bit integer", key, i, w)
			}
			out[i] = int(n)
		}
		return out, nil
	}
	floats := func(key string, want int) ([]float64, error) {
		v, err := field(key)
		if err != nil {
			return nil, err
		}
		words := strings.Fields(v.value)
		if len(words) != want {
			return nil, invalidAt(v.line, "%s has %d values, want %d", key, len(words), want)
		}
		out := make([]float64, len(words))
		for i, w := range words {
			x, err := strconv.ParseFloat(w, 64)
			if err != nil {
				return nil, invalidAt(v.line, "%s value %d: %.20q is not a number", key, i, w)
			}
			out[i] = x
		}
		return out, nil
	}
	one := func(key string) (int, error) {
		v, err := ints(key, 1)
		if err != nil {
			return 0, err
		}
		return v[0], nil
	}

	if v, ok := f["is_linear"]; ok && strings.TrimSpace(v.value) != "0" {
		return rawTree{}, base.Unsupported(lgbFormat, fmt.Sprintf("line %d (Tree=%d)", v.line, idx), errors.New("linear trees (is_linear=1)"))
	}
	numLeaves, err := one("num_leaves")
	if err != nil {
		return rawTree{}, err
	}
	if numLeaves < 1 {
		return rawTree{}, invalidAt(f["num_leaves"].line, "num_leaves=%d, want at least 1", numLeaves)
	}
	numCat := 0
	if _, ok := f["num_cat"]; ok {
		if numCat, err = one("num_cat"); err != nil {
			return rawTree{}, err
		}
		if numCat < 0 {
			return rawTree{}, invalidAt(f["num_cat"].line, "num_cat=%d is negative", numCat)
		}
	}
	leafValue, err := floats("leaf_value", numLeaves)
	if err != nil {
		return rawTree{}, err
	}
	if numLeaves == 1 {
		return rawTree{nodes: []rawNode{{leaf: true, value: leafValue[0]}}}, nil
	}

	ni := numLeaves - 1 // internal nodes
	splitFeature, err := ints("split_feature", ni)
	if err != nil {
		return rawTree{}, err
	}
	threshold, err := floats("threshold", ni)
	if err != nil {
		return rawTree{}, err
	}
	decisionType, err := ints("decision_type", ni)
	if err != nil {
		return rawTree{}, err
	}
	leftChild, err := ints("left_child", ni)
	if err != nil {
		return rawTree{}, err
	}
	rightChild, err := ints("right_child", ni)
	if err != nil {
		return rawTree{}, err
	}
	var catBoundaries, catThreshold []int
	if numCat > 0 {
		if catBoundaries, err = ints("cat_boundaries", numCat+1); err != nil {
			return rawTree{}, err
		}
		if catThreshold, err = ints("cat_threshold", -1); err != nil {
			return rawTree{}, err
		}
		line := f["cat_boundaries"].line
		if catBoundaries[0] != 0 || catBoundaries[numCat] != len(catThreshold) {
			return rawTree{}, invalidAt(line, "cat_boundaries must run from 0 to the %d values of cat_threshold", len(catThreshold))
		}
		for i := 1; i <= numCat; i++ {
			if catBoundaries[i] < catBoundaries[i-1] {
				return rawTree{}, invalidAt(line, "cat_boundaries decreases at value %d", i)
			}
		}
	}

	// Raw indexes: internal node i is i, leaf j is ni+j.
	nodes := make([]rawNode, ni+numLeaves)
	for j, v := range leafValue {
		nodes[ni+j] = rawNode{leaf: true, value: v}
	}
	child := func(i, c int, key string) (int, error) {
		if c >= 0 {
			if c >= ni {
				return 0, invalidAt(f[key].line, "%s of node %d: internal node %d out of range [0, %d)", key, i, c, ni)
			}
			return c, nil
		}
		if ^c >= numLeaves {
			return 0, invalidAt(f[key].line, "%s of node %d: leaf %d out of range [0, %d)", key, i, ^c, numLeaves)
		}
		return ni + ^c, nil
	}
	for i := range ni {
		dt := decisionType[i]
		if dt < 0 || dt > 15 || (dt>>2)&3 == 3 {
			return rawTree{}, invalidAt(f["decision_type"].line, "decision_type of node %d: %d is not a valid decision type", i, dt)
		}
		l, err := child(i, leftChild[i], "left_child")
		if err != nil {
			return rawTree{}, err
		}
		r, err := child(i, rightChild[i], "right_child")
		if err != nil {
			return rawTree{}, err
		}
		rn := rawNode{feature: splitFeature[i], left: l, right: r}
		t := threshold[i]
		if dt&1 != 0 { // categorical
			ci := int(t)
			if float64(ci) != t || ci < 0 || ci >= numCat {
				return rawTree{}, invalidAt(f["threshold"].line, "threshold of categorical node %d: %v is not a category set index in [0, %d)", i, t, numCat)
			}
			bits := make([]uint32, catBoundaries[ci+1]-catBoundaries[ci])
			for k, w := range catThreshold[catBoundaries[ci]:catBoundaries[ci+1]] {
				bits[k] = uint32(w)
			}
			rn.sp = &special{kind: lightGBMCategorical, bits: bits}
			// NaN goes right: defaultLeft stays false.
		} else {
			defaultLeft := dt&2 != 0
			switch (dt >> 2) & 3 {
			case 0: // None: NaN is read as 0.
				rn.defaultLeft = 0 <= t
			case 1: // Zero: NaN is 0, and 0 is missing.
				rn.defaultLeft = defaultLeft
				rn.sp = &special{kind: lightGBMNumerical, zeroMissing: true, defaultLeft: defaultLeft, threshold: t}
			case 2: // NaN
				rn.defaultLeft = defaultLeft
			}
			if rn.sp == nil {
				if math.IsInf(t, 1) {
					rn.sp = &special{kind: lightGBMNumerical, threshold: t}
				} else {
					rn.threshold = lessOrEqual(t)
				}
			}
		}
		nodes[i] = rn
	}
	return rawTree{nodes: nodes}, nil
}
