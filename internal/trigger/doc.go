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
//     [HTTPFunction], and WebAssembly modules. A Go function on a table
//     that implements [ImageProjector] gets (and the source decodes) only
//     the image attributes it names and its filters read.
//   - [Manager]: stores definitions in the engine (a key-value bucket),
//     runs the enabled ones and reports their [Status].
//
// # Delivery
//
// Per trigger and partition a runner reads from just after its checkpoint
// (or the starting position) and routes each record by a hash of its key
// to one of up to Parallelism lanes (so order per key holds). Each lane
// builds its own batches from its bounded queue and invokes the function
// as soon as it has records, without waiting for the other lanes (as
// Lambda's ParallelizationFactor runs concurrent batches of a shard); it
// filters, retries failures with exponential backoff and jitter, bisects
// when asked, honours partial-batch responses and sends what fails past
// the policy to the destination. The checkpoint is the low-water mark of
// the records done: the record just before the oldest one some lane has
// not done. Delivery is at-least-once: a record is delivered again when a
// function fails, or when the process stops after an invocation and before
// the checkpoint passes it (which, with lanes, includes the records other
// lanes did after the oldest one not done).
//
// # Concurrency
//
// [Manager.Run] owns one goroutine per running trigger; each owns one
// goroutine per partition, which holds the partition's lease (with a
// renewing goroutine) and runs the runner; the runner owns a checkpoint
// committer and, per reader it opens, a dispatcher goroutine (reads,
// blocks while a lane's queue or the window of records not done is full)
// and one goroutine per lane. Every owner waits for what it started
// before it returns. Lock order: Manager.mu, then triggerRun.mu, then
// partitionStatus.mu; and, apart, a window's mu, then committer.mu (a
// lane sets the checkpoint under the window's lock). None is held while
// calling out (engine, function).
//
// This package imports stream, table (and table/item) and engine; api and
// app import it, never the reverse.
package trigger
