// Package model runs the pricing models that data scientists train with
// their own tools: it defines the [Runtime] every model runtime satisfies,
// loads model files of any supported format with [Load], registers them
// ([Registry]) and serves them from named endpoints ([Endpoints]).
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
// # Registry
//
// A [Registry] keeps model packages and their numbered versions in the
// engine: the metadata of each version (format, features in row order with
// their types, output, metrics, training-data reference, tags, approval
// status) in a key-value bucket, the model file in an object store, named
// by its SHA-256 so it is written once. A file is loaded and validated
// before it is registered.
//
// # Endpoints
//
// [Endpoints] keeps endpoint definitions ([EndpointConfig]: production
// variants with weights, an optional shadow, optional data capture) in a
// key-value bucket and serves them. Every process watches the bucket and,
// on a change, loads the models and swaps the endpoint's immutable
// [Routing] table atomically: a request runs on the table it started with,
// so weights and versions shift without dropping one. Only Approved
// versions take production traffic unless a change is forced.
//
// An [*Endpoint] is the in-process [Predictor]: Predict picks a variant,
// evaluates the caller's row without copying it and returns. A shadow
// variant and the data capture get a copy of the requests they sample
// through a bounded queue that one worker drains; a full queue drops the
// copy (counted), never the request.
//
// # Concurrency
//
// A loaded [Runtime] is immutable: its methods may be called from any
// number of goroutines at once, and Predict does not allocate. [Registry],
// [Endpoints], [Endpoint] and [Routing] are safe for concurrent use.
// NewEndpoints starts the watcher and the async worker; Endpoints.Close
// stops both and waits. Endpoints.mu guards the served endpoints and is
// never held while loading a model or calling the engine.
//
// This package imports model/tree, model/linear, stream and engine; none
// of them imports it.
package model
