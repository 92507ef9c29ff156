package linear

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/pricestream/pricestream/internal/model/internal/base"
)

// document is the linear-json file.
type document struct {
	Type         string     `json:"type"`
	Features     []string   `json:"features"`
	Coefficients []float64  `json:"coefficients"`
	Intercept    *float64   `json:"intercept"`
	Missing      []*float64 `json:"missing"`
}

// Model is a loaded linear or logistic regression model. It satisfies
// model.Runtime.
type Model struct {
	features  []string
	coef      []float64
	missing   []float64 // per feature, the value that replaces NaN
	intercept float64
	logistic  bool
	info      base.Info
}

// Load reads a linear-json model (see the package documentation). A
// malformed or inconsistent file gives a *model.LoadError wrapping
// model.ErrInvalidModel that names the problem and, for JSON errors, the
// offset, line and column.
func Load(data []byte) (*Model, error) {
	const format = base.FormatLinearJSON
	var doc document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, base.JSONError(format, data, err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, base.Invalid(format, base.OffsetPos(data, dec.InputOffset()), errors.New("data after the model object"))
	}
	invalid := func(pos, f string, args ...any) error {
		return base.Invalid(format, pos, fmt.Errorf(f, args...))
	}

	m := &Model{info: base.Info{Format: format, Version: "1", Objective: doc.Type}}
	switch doc.Type {
	case "linear":
		m.info.Output = base.OutputRegression
	case "logistic":
		m.logistic = true
		m.info.Output = base.OutputProbability
	case "":
		return nil, invalid("type", "missing; want \"linear\" or \"logistic\"")
	default:
		return nil, base.Unsupported(format, "type", fmt.Errorf("%q (want \"linear\" or \"logistic\")", doc.Type))
	}
	if doc.Features == nil {
		return nil, invalid("features", "missing")
	}
	seen := make(map[string]int, len(doc.Features))
	for i, name := range doc.Features {
		if name == "" {
			return nil, invalid(fmt.Sprintf("features[%d]", i), "empty name")
		}
		if j, dup := seen[name]; dup {
			return nil, invalid(fmt.Sprintf("features[%d]", i), "%q repeats features[%d]", name, j)
		}
		seen[name] = i
	}
	n := len(doc.Features)
	if len(doc.Coefficients) != n {
		return nil, invalid("coefficients", "%d values for %d features", len(doc.Coefficients), n)
	}
	if doc.Intercept != nil {
		m.intercept = *doc.Intercept
	}
	m.missing = make([]float64, n)
	if doc.Missing != nil {
		if len(doc.Missing) != n {
			return nil, invalid("missing", "%d values for %d features", len(doc.Missing), n)
		}
		for i, v := range doc.Missing {
			if v == nil {
				return nil, invalid(fmt.Sprintf("missing[%d]", i), "null; want a number")
			}
			m.missing[i] = *v
		}
	}
	m.features = doc.Features
	m.coef = doc.Coefficients
	return m, nil
}

// NumFeatures returns the number of features a row has: the row's length.
func (m *Model) NumFeatures() int { return len(m.coef) }

// FeatureNames returns the feature names, in row order. The slice is a
// copy.
func (m *Model) FeatureNames() []string { return slices.Clone(m.features) }

// Info describes the model.
func (m *Model) Info() base.Info { return m.info }

// Predict returns the prediction for one row of NumFeatures values; NaN
// marks a missing value. Values beyond the row's length count as missing
// and extra values are ignored, so Predict never panics; use
// model.PredictChecked to reject such rows. Predict does not allocate and
// does not modify row.
func (m *Model) Predict(row []float64) float64 {
	s := m.intercept
	n := min(len(row), len(m.coef))
	coef, missing := m.coef[:n], m.missing[:n]
	for i, x := range row[:n] {
		if x != x {
			x = missing[i]
		}
		s += coef[i] * x
	}
	for i := n; i < len(m.coef); i++ {
		s += m.coef[i] * m.missing[i]
	}
	if m.logistic {
		return 1 / (1 + math.Exp(-s))
	}
	return s
}

// PredictBatch writes the prediction for rows[i] to out[i], as Predict
// would. It panics if out is shorter than rows.
func (m *Model) PredictBatch(rows [][]float64, out []float64) {
	if len(out) < len(rows) {
		panic("linear: PredictBatch: out is shorter than rows")
	}
	for i, row := range rows {
		out[i] = m.Predict(row)
	}
}
