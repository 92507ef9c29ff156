package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Metrics measures predictions against labels.
type Metrics struct {
	// Rows is the number of rows measured.
	Rows int `json:"rows"`
	// RMSE is the root mean squared error.
	RMSE float64 `json:"rmse"`
	// MAE is the mean absolute error.
	MAE float64 `json:"mae"`
	// BaselineRMSE is the RMSE of predicting the mean training label for
	// every row: a model worth having is well below it.
	BaselineRMSE float64 `json:"baseline_rmse"`
}

// Report describes a training run.
type Report struct {
	// Features names the model's features, in row order.
	Features []string `json:"features"`
	// Monotone lists the constrained features and their direction.
	Monotone map[string]int `json:"monotone,omitempty"`
	// Rows is the number of rows given; TrainRows of them trained the
	// model and ValidationRows were held out.
	Rows           int `json:"rows"`
	TrainRows      int `json:"train_rows"`
	ValidationRows int `json:"validation_rows"`
	// TreesBuilt is the number of rounds run; TreesKept the number of
	// trees in the model (fewer when early stopping cut it short).
	TreesBuilt int `json:"trees_built"`
	TreesKept  int `json:"trees_kept"`
	// BaseScore is the model's prediction before any tree: the mean
	// training label.
	BaseScore float64 `json:"base_score"`
	// Train measures the model on the training rows, Validation (nil
	// without held-out rows) on the held-out ones.
	Train      Metrics  `json:"train"`
	Validation *Metrics `json:"validation,omitempty"`
}

// Train fits a gradient-boosted ensemble of regression trees (squared
// error, XGBoost's reg:squarederror, with histogram split finding as its
// tree_method "hist") to data. It blocks until done and returns early with
// ctx's error when ctx ends; it starts no goroutines and keeps no
// reference to data.
//
// Training is deterministic: the same data, Config and Seed give the same
// model, byte for byte, on every run and machine.
func Train(ctx context.Context, data Data, cfg Config) (*Model, *Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withDefaults()
	if err := data.check(); err != nil {
		return nil, nil, err
	}
	nf := len(data.Features)
	monotone := make([]int8, nf)
	for name, v := range cfg.Monotone {
		i := slices.Index(data.Features, name)
		if i < 0 {
			return nil, nil, fmt.Errorf("train: monotone constraint on %q, which is not a feature", name)
		}
		monotone[i] = int8(v)
	}

	// Split the rows: the last ones or a seeded shuffle pick the held-out
	// ones; both sets stay in data order.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x70726963657374)) // "pricest"
	n := len(data.Rows)
	nval := int(math.Round(cfg.ValidationFraction * float64(n)))
	if cfg.ValidationFraction > 0 && nval == 0 {
		nval = 1
	}
	if nval >= n {
		nval = n - 1
	}
	isVal := make([]bool, n)
	switch {
	case nval > 0 && cfg.ValidationLast:
		for i := n - nval; i < n; i++ {
			isVal[i] = true
		}
	case nval > 0:
		for _, i := range rng.Perm(n)[:nval] {
			isVal[i] = true
		}
	}
	var trainIdx, valIdx []int32
	for i := range n {
		if isVal[i] {
			valIdx = append(valIdx, int32(i))
		} else {
			trainIdx = append(trainIdx, int32(i))
		}
	}

	var sum float64
	for _, i := range trainIdx {
		sum += data.Labels[i]
	}
	base := float32(sum / float64(len(trainIdx)))

	q := newQuantizer(&data, trainIdx, cfg.MaxBins)
	g := &grower{
		cfg:      cfg,
		q:        q,
		nf:       nf,
		bins:     q.binRows(&data, trainIdx),
		grad:     make([]gradPair, len(trainIdx)),
		monotone: monotone,
	}
	valBins := q.binRows(&data, valIdx)
	trainY := pick(data.Labels, trainIdx)
	valY := pick(data.Labels, valIdx)
	trainPred := filled(len(trainIdx), base)
	valPred := filled(len(valIdx), base)
	g.pred = trainPred
	var sampled []bool
	if cfg.Subsample < 1 {
		sampled = make([]bool, len(trainIdx))
	}

	m := &Model{features: slices.Clone(data.Features), baseScore: base, bestIteration: -1}
	all := make([]int32, len(trainIdx))
	for i := range all {
		all[i] = int32(i)
	}
	rows := make([]int32, 0, len(trainIdx))
	bestRMSE, best := math.Inf(1), -1
	for round := range cfg.Trees {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		for i, p := range trainPred {
			g.grad[i] = gradPair{g: float64(p) - trainY[i], h: 1}
		}
		rows = rows[:0]
		if cfg.Subsample < 1 {
			clear(sampled)
			for _, r := range all {
				if rng.Float64() < cfg.Subsample {
					rows = append(rows, r)
					sampled[r] = true
				}
			}
		}
		partial := len(rows) > 0 // else (no subsampling, or none drawn) all rows
		if !partial {
			rows = append(rows, all...)
		}
		t := g.grow(rows) // adds the tree to the sampled rows' predictions
		m.trees = append(m.trees, t)
		if partial {
			for i := range trainPred {
				if !sampled[i] {
					trainPred[i] += predictBinned(t, g.bins[i*nf:i*nf+nf])
				}
			}
		}
		for i := range valPred {
			valPred[i] += predictBinned(t, valBins[i*nf:i*nf+nf])
		}
		if cfg.EarlyStoppingRounds > 0 {
			if r := measure(valPred, valY, base).RMSE; r < bestRMSE {
				bestRMSE, best = r, round
			} else if round-best >= cfg.EarlyStoppingRounds {
				break
			}
		}
	}
	built := len(m.trees)
	if cfg.EarlyStoppingRounds > 0 && best+1 < built {
		// Keep the trees up to the best round, and measure those.
		m.trees = m.trees[:best+1]
		m.bestIteration = best
		replay(trainPred, m, g.bins, nf)
		replay(valPred, m, valBins, nf)
	} else if cfg.EarlyStoppingRounds > 0 {
		m.bestIteration = best
	}

	rep := &Report{
		Features:       slices.Clone(data.Features),
		Rows:           n,
		TrainRows:      len(trainIdx),
		ValidationRows: len(valIdx),
		TreesBuilt:     built,
		TreesKept:      len(m.trees),
		BaseScore:      float64(base),
		Train:          measure(trainPred, trainY, base),
	}
	for name, v := range cfg.Monotone {
		if v != 0 {
			if rep.Monotone == nil {
				rep.Monotone = map[string]int{}
			}
			rep.Monotone[name] = v
		}
	}
	if len(valIdx) > 0 {
		v := measure(valPred, valY, base)
		rep.Validation = &v
	}
	return m, rep, nil
}

func pick(xs []float64, idx []int32) []float64 {
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// replay recomputes pred from the model's trees for binned rows.
func replay(pred []float32, m *Model, bins []uint16, nf int) {
	for i := range pred {
		acc := m.baseScore
		for _, t := range m.trees {
			acc += predictBinned(t, bins[i*nf:i*nf+nf])
		}
		pred[i] = acc
	}
}

func measure(pred []float32, y []float64, base float32) Metrics {
	m := Metrics{Rows: len(y)}
	if len(y) == 0 {
		return m
	}
	var se, ae, be float64
	for i, p := range pred {
		d := float64(p) - y[i]
		se += d * d
		ae += math.Abs(d)
		b := float64(base) - y[i]
		be += b * b
	}
	k := float64(len(y))
	m.RMSE = math.Sqrt(se / k)
	m.MAE = ae / k
	m.BaselineRMSE = math.Sqrt(be / k)
	return m
}
