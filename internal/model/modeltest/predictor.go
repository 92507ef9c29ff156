package modeltest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
)

// PredictorCases are what [Predictor] checks a predictor with.
type PredictorCases struct {
	Cases
	// Variants are the production variants of the endpoint behind the
	// predictor; each must answer the cases (the same model, or one with
	// the same predictions). Empty skips the variant checks.
	Variants []string
}

// Predictor is the conformance suite of model.Predictor implementations:
// the in-process endpoint and the remote clients of each protocol answer
// the same cases alike — predictions within tolerance of the training
// library's (missing values included), the variant that answered, a row
// of the wrong length and an unknown variant refused as invalid input
// (model.ErrInvalidInput), the caller's row left unmodified, and
// concurrent use.
func Predictor(t *testing.T, p model.Predictor, c PredictorCases) {
	t.Helper()
	ctx := context.Background()
	tol := c.Tol
	if tol == 0 {
		tol = DefaultTolerance
	}
	check := func(t *testing.T, i int, got model.Prediction) {
		t.Helper()
		want := c.Want[i]
		require.False(t, got.Fallback, "case %d: a fallback answer", i)
		if math.IsNaN(want) {
			require.True(t, math.IsNaN(got.Value), "case %d: %v, want NaN", i, got.Value)
			return
		}
		require.LessOrEqual(t, math.Abs(got.Value-want), tol*math.Max(1, math.Abs(want)), "case %d: %v, want %v", i, got.Value, want)
		if len(c.Variants) > 0 {
			require.Contains(t, c.Variants, got.Variant, "case %d: answered by an unknown variant", i)
		}
	}

	t.Run("Cases", func(t *testing.T) {
		sawMissing := false
		for i, row := range c.Rows {
			before := slices.Clone(row)
			got, err := p.Predict(ctx, model.Features{Row: row, InferenceID: "case"})
			require.NoError(t, err, "case %d", i)
			check(t, i, got)
			require.Equal(t, bitsOf(before), bitsOf(row), "case %d: Predict modified the row", i)
			sawMissing = sawMissing || slices.ContainsFunc(row, math.IsNaN)
		}
		require.True(t, sawMissing, "the cases must include a missing value")
	})

	t.Run("Variants", func(t *testing.T) {
		for _, v := range c.Variants {
			for i, row := range c.Rows[:min(len(c.Rows), 5)] {
				got, err := p.Predict(ctx, model.Features{Row: row, Variant: v})
				require.NoError(t, err, "variant %s case %d", v, i)
				check(t, i, got)
				require.Equal(t, v, got.Variant, "the variant asked for answers")
			}
		}
		_, err := p.Predict(ctx, model.Features{Row: c.Rows[0], Variant: "no-such-variant"})
		require.ErrorIs(t, err, model.ErrInvalidInput, "unknown variant")
	})

	t.Run("BadRows", func(t *testing.T) {
		n := len(c.Rows[0])
		for _, row := range [][]float64{c.Rows[0][:n-1], append(slices.Clone(c.Rows[0]), 1)} {
			_, err := p.Predict(ctx, model.Features{Row: row})
			require.ErrorIs(t, err, model.ErrInvalidInput, "a row of %d values for %d features", len(row), n)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				for i := g; i < len(c.Rows); i += 4 {
					got, err := p.Predict(ctx, model.Features{Row: c.Rows[i]})
					if err == nil && math.Abs(got.Value-c.Want[i]) > tol*math.Max(1, math.Abs(c.Want[i])) {
						err = errMismatch{i, got.Value, c.Want[i]}
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}

type errMismatch struct {
	i         int
	got, want float64
}

func (e errMismatch) Error() string {
	return fmt.Sprintf("case %d: %v, want %v", e.i, e.got, e.want)
}
