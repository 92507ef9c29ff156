// Package payload decodes and encodes the bodies of prediction requests
// and answers in the formats pricestream's endpoints speak, for the
// servers (api/sagemaker, api/oip, `model serve`) and the remote client
// (model/remote) alike:
//
//   - text/csv, as SageMaker's built-in containers take it: one row per
//     line, no header, an empty field is a missing value; the answer is one
//     prediction per line ([DecodeCSV], [AppendCSV]).
//   - application/json instances: {"instances": [[1.5, null, 3], ...]} or
//     {"instances": [{"price": 1.5, "views": 3}, ...]} (a feature left out
//     is missing); the answer is {"predictions": [...]} ([DecodeJSON],
//     [AppendJSON]).
//   - the Open Inference Protocol v2 (KServe, Triton, MLServer) inference
//     request and response ([DecodeInfer], [AppendInferResponse]).
//
// Every decoder checks the rows against the endpoint's features (count,
// names, types) and returns an error that is a *model.InputError (test with
// errors.Is(err, model.ErrInvalidInput)) naming the line, instance or
// tensor and the problem; none panics on any input (see the fuzz tests).
//
// # Concurrency
//
// The package holds no state; its functions may be called concurrently.
// Decoded rows share one backing array and do not refer to the body. It
// imports package model only.
package payload
