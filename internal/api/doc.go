// Package api is pricestream's one HTTP server: the native REST API under
// /v1/ (JSON: streams, models, endpoints), the AWS-compatible JSON APIs on
// POST / routed by the X-Amz-Target header (mounted by
// [Server.HandleTarget]), other protocols mounted by [Server.Handle]
// (api/sagemaker's InvokeEndpoint, api/oip's Open Inference Protocol),
// /metrics, /healthz and /readyz.
//
// Errors of the parts become HTTP statuses only here, through one table of
// stable error codes ([ErrorCode]); the body of a native error is
// {"error": {"code": "...", "message": "..."}}.
//
// # Limits
//
// Every request but the probes and /metrics takes one of
// http.max_concurrent_requests slots, or is refused at once with 429; a put
// is also refused (429, ProvisionedThroughputExceededException on the
// Kinesis API) when its client is over its ingest rate or when a consumer
// of the stream is too far behind ([Server.SetLag]). Each refusal is counted
// in pricestream_http_refused_total.
//
// # Concurrency
//
// A [Server] serves requests concurrently; handlers hold no per-request
// state in the Server. Routes are added before [Server.Serve]. This package
// imports the parts it serves (stream, catalog, model ...) and engine, and joins
// them where one needs the other: the put path runs the catalog's checks of
// bound streams and sends refused records to a dead-letter stream. Nothing
// imports it but app, client (for its wire types) and its own subpackages'
// tests.
package api
