// Package etl runs streaming ETL jobs, pricestream's Glue streaming ETL:
// per event, not per 100-second micro-batch. A job ([Spec], YAML or JSON)
// reads a stream (records in JSON or CSV, typed by an inline schema or a
// catalog table through [Catalog]) or a table's change stream; runs
// transforms after Glue's DynamicFrame set on the self-describing
// record.Record ([Transform]: apply_mapping, resolve_choice, drop_nulls,
// drop_fields, select_fields, rename_field, filter, map, assert, flatten,
// explode, split_rows, unbox); enriches records by lookup joins with tables
// held in memory and kept current by their change streams ([Lookup]);
// aggregates them per key in event-time windows (tumbling or sliding, with
// a per-partition watermark, late records dead-lettered); and upserts the
// rows into a table or appends them to a stream. [Compile] checks a job
// once, every expression (github.com/expr-lang/expr) type-checked against
// the schema of the records it sees, and reports every problem with its
// path.
//
// # Exactly-once effect
//
// Sink writes are idempotent upserts keyed by what the row describes.
// Each source partition's position, counters and window state are
// checkpointed in the engine (a key-value bucket) after every row and dead
// letter emitted before the checkpoint is durable; emission of final rows
// depends on the watermark (event time), not wall time. After a crash a job
// resumes from its checkpoints and emits the same rows again.
//
// # Concurrency
//
// [Manager] is safe for concurrent use. [Manager.Run] watches the job
// definitions and owns one supervisor goroutine per running job; each run
// owns, per source partition, a reader goroutine, and a pool of worker
// goroutines (parallelism), each processing whole partitions in order with
// its own expression VM and scratch records; per table sink a goroutine
// starting its writes (their completions run on the table's goroutine that
// hands on acknowledgements) and one writing again what failed, a
// dead-letter writer and one goroutine per lookup table; every one is
// stopped and waited for when the job stops. Queues between them are
// bounded (a full sink blocks the workers, which block the readers).
// Window state belongs to its partition's worker and is never shared: a
// checkpoint takes a copy of it, copy-on-write, that the worker makes in
// slices between its records (see docs/etl.md), and hands to its
// checkpointer goroutine, which encodes and writes it. Lock
// order: Manager.mu, then jobRun.mu; a sink's or lookup's mutex is never
// held with another.
//
// # Memory
//
// A record decoded from a stream may alias the engine message it came
// from (decoded in place, see docs/etl.md): whatever keeps a value past
// the record's event (window state, a sink's queue) keeps a copy of its
// strings, or the job decodes with a copy (a table sink reached without a
// window).
//
// This package imports record, stream, table and engine; it must not import
// api, app or cmd. Errors are "etl: ..." and wrap [ErrInvalid],
// [ErrNotFound] or [ErrClosed]; a record a stage cannot process is a
// [*RecordError] and goes to the job's dead-letter stream.
package etl
