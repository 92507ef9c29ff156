// Package sagemaker serves pricestream's endpoints with the SageMaker
// runtime's InvokeEndpoint API (POST /endpoints/{name}/invocations), so
// clients written for SageMaker (the AWS SDKs, boto3) work by changing only
// the endpoint URL, and the SageMaker container contract (GET /ping, POST
// /invocations) that `pricestream model serve` speaks.
//
// # Behaviour
//
//   - Content-Type text/csv (one row per line, an empty field is missing)
//     or application/json ({"instances": [...]}); the answer is text/csv
//     (one prediction per line) or {"predictions": [...]}, as Accept asks,
//     else in the request's type.
//   - X-Amzn-SageMaker-Target-Variant picks a production variant; the
//     answer names the variant that answered in
//     X-Amzn-Invoked-Production-Variant. X-Amzn-SageMaker-Inference-Id is
//     recorded with the data capture.
//   - Errors as SageMaker gives them: the type in X-Amzn-ErrorType and the
//     message in a JSON body. An unknown endpoint or variant is a
//     ValidationError (400); a payload the model refuses is a ModelError
//     (424) carrying the container's OriginalStatusCode (400 for a bad row,
//     415 for an unsupported content type, 406 for an unsupported Accept)
//     and OriginalMessage; a body over the limit is a ValidationError (413).
//
// Requests are not authenticated (the SDK's SigV4 signature is ignored).
//
// # Concurrency
//
// A [Handler] is safe for concurrent use and holds no per-request state.
// It imports model and model/payload only.
package sagemaker
