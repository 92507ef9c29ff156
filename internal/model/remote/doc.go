// Package remote is a [model.Predictor] for an endpoint served over HTTP:
// by another pricestream (SageMaker InvokeEndpoint or the Open Inference
// Protocol), by `pricestream model serve`, or by any model server speaking
// either protocol (a SageMaker endpoint behind a proxy that signs
// requests, KServe, Triton, MLServer).
//
// # Failure handling
//
// Each attempt has a timeout. A failure that may be transient (a network
// error, a timeout, 429, 5xx) is retried with exponential backoff and
// jitter; a refusal for the input (other 4xx) is not, and is returned as a
// *model.InputError, as the in-process endpoint returns it. A circuit
// breaker opens after a number of failed requests in a row and refuses
// requests (ErrCircuitOpen) until it lets a probe through. With a fallback
// configured, an unavailable endpoint gives the fallback answer, marked
// Prediction.Fallback, instead of an error.
//
// Requests are not signed: a real SageMaker endpoint needs SigV4, which a
// signing proxy or the AWS SDK provides.
//
// # Concurrency
//
// A [Client] is safe for concurrent use and starts no goroutines; its
// breaker is guarded by a mutex. It imports model and model/payload.
package remote
