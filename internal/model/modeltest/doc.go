// Package modeltest is the conformance suite of model runtimes: every
// implementation of model.Runtime (the tree ensembles of model/tree, the
// linear models of model/linear, and any later one) runs [Runtime] on cases
// made by the library that trained its model, and so meets the same
// contract: predictions within tolerance of the library's, missing values,
// rows of the wrong length, batch equal to single, no allocation, no
// mutation of the row, and concurrent use under the race detector.
//
// [Predictor] is the conformance suite of model.Predictor: the in-process
// endpoint and the remote clients of each protocol answer the same cases
// alike, refuse the same bad requests as invalid input, and leave the
// caller's row alone.
//
// [ReadCases] reads the cases that internal/model/testdata/gen.py writes.
//
// # Concurrency
//
// Runtime starts goroutines for its concurrency check and waits for all of
// them before it returns. The package holds no state. It imports package
// model and is imported only by tests.
package modeltest
