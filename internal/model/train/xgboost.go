package train

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// XGBoostJSON returns the model as the JSON document XGBoost 1.7 writes
// with Booster.save_model("model.json"): a gbtree booster with objective
// reg:squarederror, learner_model_param.base_score, the model's
// feature_names (feature_types all "float"), and every tree with the
// arrays XGBoost writes (split_indices, split_conditions, left_children,
// right_children, default_left, base_weights, loss_changes, sum_hessian,
// parents ...). XGBoost 1.7 and later, and model/tree, load it and predict
// what [Model.Predict] predicts. When early stopping cut the model short,
// the learner's attributes hold best_iteration and best_ntree_limit, as
// XGBoost's own early stopping writes them.
//
// Keys are in XGBoost's (sorted) order and floats in its notation
// ("1.5E0"), so the same model always gives the same bytes.
func (m *Model) XGBoostJSON() []byte {
	var b bytes.Buffer
	nf := strconv.Itoa(len(m.features))
	b.WriteString(`{"learner":{"attributes":{`)
	if m.bestIteration >= 0 {
		b.WriteString(`"best_iteration":"` + strconv.Itoa(m.bestIteration) + `","best_ntree_limit":"` + strconv.Itoa(m.bestIteration+1) + `"`)
	}
	b.WriteString(`},"feature_names":[`)
	for i, name := range m.features {
		if i > 0 {
			b.WriteByte(',')
		}
		s, _ := json.Marshal(name) // a string always marshals
		b.Write(s)
	}
	b.WriteString(`],"feature_types":[`)
	for i := range m.features {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"float"`)
	}
	nt := strconv.Itoa(len(m.trees))
	b.WriteString(`],"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"` + nt + `","size_leaf_vector":"0"},"tree_info":[`)
	for i := range m.trees {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('0')
	}
	b.WriteString(`],"trees":[`)
	for i, t := range m.trees {
		if i > 0 {
			b.WriteByte(',')
		}
		writeTree(&b, i, t, nf)
	}
	b.WriteString(`]},"name":"gbtree"},"learner_model_param":{"base_score":"` + xgbFloat(m.baseScore) +
		`","boost_from_average":"1","num_class":"0","num_feature":"` + nf + `","num_target":"1"},` +
		`"objective":{"name":"reg:squarederror","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}`)
	return b.Bytes()
}

// writeTree writes tree id as XGBoost's RegTree::SaveModel does.
func writeTree(b *bytes.Buffer, id int, t []node, nf string) {
	list := func(key string, first bool, f func(n *node) string) {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(`"` + key + `":[`)
		for i := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f(&t[i]))
		}
		b.WriteByte(']')
	}
	itoa := func(v int32) string { return strconv.Itoa(int(v)) }
	b.WriteByte('{')
	list("base_weights", true, func(n *node) string { return xgbFloat(float32(n.weight)) })
	b.WriteString(`,"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[]`)
	list("default_left", false, func(n *node) string {
		if !n.isLeaf() && n.defaultLeft {
			return "1"
		}
		return "0"
	})
	b.WriteString(`,"id":` + strconv.Itoa(id))
	list("left_children", false, func(n *node) string { return itoa(n.left) })
	list("loss_changes", false, func(n *node) string { return xgbFloat(float32(n.gain)) })
	list("parents", false, func(n *node) string {
		if n.parent < 0 {
			return "2147483647"
		}
		return itoa(n.parent)
	})
	list("right_children", false, func(n *node) string { return itoa(n.right) })
	list("split_conditions", false, func(n *node) string {
		if n.isLeaf() {
			return xgbFloat(n.leaf)
		}
		return xgbFloat(n.threshold)
	})
	list("split_indices", false, func(n *node) string {
		if n.isLeaf() {
			return "0"
		}
		return itoa(n.feature)
	})
	list("split_type", false, func(*node) string { return "0" })
	list("sum_hessian", false, func(n *node) string { return xgbFloat(float32(n.hess)) })
	b.WriteString(`,"tree_param":{"num_deleted":"0","num_feature":"` + nf + `","num_nodes":"` + strconv.Itoa(len(t)) + `","size_leaf_vector":"0"}}`)
}

// xgbFloat formats a float32 as XGBoost's JSON writer does: the shortest
// decimal that reads back as the same float32, in scientific notation
// with a bare exponent ("1.5E0", "3E3", "-7.4424773E-1").
func xgbFloat(v float32) string {
	s := strconv.FormatFloat(float64(v), 'E', -1, 32)
	mant, exp, _ := strings.Cut(s, "E")
	e, _ := strconv.Atoi(exp) // FormatFloat writes a valid exponent
	return mant + "E" + strconv.Itoa(e)
}
