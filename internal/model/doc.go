// Package model runs the pricing models that data scientists train with
// their own tools: it defines the [Runtime] every model runtime satisfies
// and loads model files of any supported format with [Load].
//
// # Runtimes
//
// The runtimes are pure Go and live in subpackages: model/tree evaluates
// XGBoost JSON and LightGBM text models with one flat-array tree evaluator,
// model/linear evaluates linear and logistic regressions from a JSON file of
// coefficients. Each agrees with the library that trained the model (see
// testdata/gen.py and the tests), and model/modeltest holds the conformance
// suite they all pass.
//
// # Rows
//
// A row is a []float64 of [Runtime.NumFeatures] values in the model's
// feature order; NaN marks a missing value. Predict is lenient (a short row
// reads as missing values, extra values are ignored) so that it never
// panics; [PredictChecked] and [PredictBatchChecked] reject rows of the
// wrong length with [ErrFeatureCount].
//
// # Errors
//
// A model file that cannot be loaded gives a [*LoadError]: test with
// errors.Is for [ErrInvalidModel] (malformed) or [ErrUnsupported] (valid,
// but needs something no runtime implements); its message names the format,
// the position and the problem.
//
// # Concurrency
//
// A loaded [Runtime] is immutable: its methods may be called from any
// number of goroutines at once, and Predict does not allocate. The
// functions of this package hold no state.
//
// This package imports model/tree and model/linear and no other pricestream
// package; they never import it.
package model
