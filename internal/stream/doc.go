// Package stream holds pricestream's data streams, the stand-in for Kinesis
// Data Streams: partitioned, ordered, durable logs of records on the engine.
//
// # Storage
//
// Each partition of a stream is one JetStream stream with one subject (the
// engine stores and fsyncs one JetStream stream's messages one after the
// other, so partitions in separate streams are stored in parallel). A
// partition key maps to a partition as Kinesis maps it to a shard: the MD5
// of the key read as a 128-bit number, each partition owning an equal,
// contiguous range of hash keys ([HashPartitionKey], [Stream.Partition]).
//
// The records of one partition travel as record batches: one engine message
// holds the records of one [Stream.Append] call, and a partition's writer
// merges the records of concurrent calls into one message while its previous
// write is in flight (group commit). So ingest is bound neither by the
// engine's per-message rate nor by one fsync per call. A write is in
// flight until the engine stores its batch; the batch's records are
// acknowledged by the partition's completer once a group sync covers them,
// while the writer stores the next batch. A record's position
// is the engine sequence of its batch and its index in the batch; its
// sequence number ([Position.SequenceNumber]) is the decimal
// Seq·10¹⁰ + Index·10⁴ + partition, which increases within a partition and
// is unique across the partitions of a stream.
//
// Each batch also carries the partition offset of its first record; writers
// keep offsets exact across processes by writing conditionally on the
// partition's last batch (the engine's expected-last-subject-sequence), so
// that lag can be counted in records.
//
// # Reading
//
// [Stream.Read] polls a partition from a position (the Kinesis GetRecords
// model); [Stream.Subscribe] has the engine push a partition's batches as
// they are stored. A named [Consumer] keeps its checkpoints in a key-value
// bucket, so positions survive restarts and lag is measurable.
//
// # Concurrency
//
// [Manager], [Stream] and [Consumer] are safe for concurrent use. Append
// starts at most one flusher goroutine per partition with queued records,
// and a flusher at most one completer per partition with stored records
// waiting for a sync; the Manager owns both and [Manager.Close] waits for
// them. Lock order:
// Manager.mu, then partWriter.mu is never held with it.
//
// This package imports engine only.
package stream
