// Package trigger runs functions on the records of data streams and the
// changes of tables: pricestream's stand-in for Lambda event source
// mappings, with their controls (batch size, batching window, filters,
// parallelism per partition, retries, bisection, partial-batch responses,
// maximum record age, an on-failure destination) and without their poll
// interval: records are pushed by the engine as they are stored.
//
// # Parts
//
//   - [Spec]: a trigger definition (YAML or JSON), validated with every
//     problem reported at once ([ParseSpec], [Spec.Validate]).
//   - [Pattern], [Filters]: Lambda/EventBridge-style filter patterns.
//   - [Source], [PartitionReader]: where records come from; [StreamSource]
//     adapts a data stream and [TableSource] a table's change stream
//     ([AppendKinesisRecord] and [AppendDynamoDBRecord] encode their
//     records as Lambda would).
//   - [Function]: what is called: Go functions from a [Registry],
//     [HTTPFunction], and WebAssembly modules.
//   - [Manager]: stores definitions in the engine (a key-value bucket),
//     runs the enabled ones and reports their [Status].
//
// # Delivery
//
// Per trigger and partition a runner reads from just after its checkpoint
// (or the starting position), builds a batch, filters it, splits it into
// up to Parallelism lanes by key hash (so order per key holds), invokes
// the function for each lane concurrently, retries failures with
// exponential backoff and jitter, bisects when asked, honours partial-batch
// responses, sends what fails past the policy to the destination, and then
// commits the checkpoint. Delivery is at-least-once: a record is delivered
// again only when the process stops between an invocation and the commit
// after it, or when a function fails.
//
// # Concurrency
//
// [Manager.Run] owns one goroutine per running trigger; each owns one
// goroutine per partition, which holds the partition's lease (with a
// renewing goroutine) and runs the runner; the runner owns a reader
// goroutine, a checkpoint committer and, per batch with Parallelism above
// 1, one goroutine per lane. Every owner waits for what it started before it
// returns. Lock order: Manager.mu, then triggerRun.mu, then
// partitionStatus.mu; none is held while calling out (engine, function).
//
// This package imports stream, table (and table/item) and engine; api and
// app import it, never the reverse.
package trigger
