// Package wasmabi is the guest side of pricestream's WebAssembly function
// ABI: a Go program compiled with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared calls [Handle] from init (not main: a reactor
// module's main never runs), and the host runs it as a trigger function
// ("wasm:FILE").
//
// # ABI
//
// The module is a WASI (preview 1) reactor: the host calls _initialize
// once per instance, then for each invocation:
//
//  1. alloc(size u32) -> ptr u32: the guest returns a buffer of size bytes
//     in its memory; the host writes the event there: the batch as the JSON
//     event Lambda would give a function ({"Records": [...]}).
//  2. handle(ptr u32, size u32) -> u64: the guest processes the event and
//     returns where its answer is, packed as ptr<<32 | size. The answer is
//     JSON: a partial-batch response ({"batchItemFailures":
//     [{"itemIdentifier": SEQ}]}), or {"error": "message"} when the whole
//     batch failed, or empty for success.
//
// The buffers stay valid until the next call. An instance handles one
// invocation at a time; the host keeps a pool of instances and drops one
// that traps or outlives the function timeout. What the guest writes to
// stdout and stderr goes to the host's log at Debug.
//
// This package imports only the standard library; its exported functions
// exist in every build so that its docs and tests build anywhere, and the
// exports are compiled in for GOOS=wasip1 only.
package wasmabi
