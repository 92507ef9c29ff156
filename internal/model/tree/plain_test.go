package tree_test

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// plainModel is the straightforward way to evaluate an XGBoost model in Go:
// a pointer per child and a recursive walk. It reads the JSON on its own,
// so it checks the flat evaluator independently, and the benchmarks run it
// beside the flat one (BenchmarkTreePredictPlainWalk). It handles numerical
// splits only.
type plainModel struct {
	trees    []*plainNode
	base     float32
	logistic bool
}

type plainNode struct {
	leaf        bool
	value       float32 // leaf value
	feature     int
	threshold   float32
	defaultLeft bool
	left, right *plainNode
}

func (n *plainNode) eval(row []float64) float32 {
	if n.leaf {
		return n.value
	}
	x := row[n.feature]
	switch {
	case math.IsNaN(x):
		if n.defaultLeft {
			return n.left.eval(row)
		}
		return n.right.eval(row)
	case float32(x) < n.threshold:
		return n.left.eval(row)
	default:
		return n.right.eval(row)
	}
}

func (p *plainModel) predict(row []float64) float64 {
	s := p.base
	for _, t := range p.trees {
		s += t.eval(row)
	}
	if p.logistic {
		t := min(-s, 88.7)
		return float64(1 / (float32(math.Exp(float64(t))) + 1))
	}
	return float64(s)
}

func loadPlain(t testing.TB, data []byte) *plainModel {
	t.Helper()
	var doc struct {
		Learner struct {
			GradientBooster struct {
				Model struct {
					Trees []struct {
						LeftChildren    []int     `json:"left_children"`
						RightChildren   []int     `json:"right_children"`
						SplitIndices    []int     `json:"split_indices"`
						SplitConditions []float32 `json:"split_conditions"`
						DefaultLeft     []int     `json:"default_left"`
					} `json:"trees"`
				} `json:"model"`
			} `json:"gradient_booster"`
			LearnerModelParam struct {
				BaseScore string `json:"base_score"`
			} `json:"learner_model_param"`
			Objective struct {
				Name string `json:"name"`
			} `json:"objective"`
		} `json:"learner"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	b, err := strconv.ParseFloat(doc.Learner.LearnerModelParam.BaseScore, 32)
	require.NoError(t, err)
	p := &plainModel{base: float32(b)}
	if doc.Learner.Objective.Name != "reg:squarederror" {
		p.logistic = true
		p.base = -float32(math.Log(float64(1/float32(b) - 1)))
	}
	for _, tr := range doc.Learner.GradientBooster.Model.Trees {
		var build func(i int) *plainNode
		build = func(i int) *plainNode {
			if tr.LeftChildren[i] == -1 {
				return &plainNode{leaf: true, value: tr.SplitConditions[i]}
			}
			return &plainNode{
				feature:     tr.SplitIndices[i],
				threshold:   tr.SplitConditions[i],
				defaultLeft: tr.DefaultLeft[i] == 1,
				left:        build(tr.LeftChildren[i]),
				right:       build(tr.RightChildren[i]),
			}
		}
		p.trees = append(p.trees, build(0))
	}
	return p
}
