// Package kinesis serves the Kinesis Data Streams JSON 1.1 API (POST /
// with X-Amz-Target: Kinesis_20131202.<Operation>) over pricestream's
// streams, so producers and consumers written for Kinesis (the AWS SDKs,
// agents) work by changing only the endpoint URL.
//
// A Kinesis shard is a partition: shard "shardId-000000000003" is partition
// 3, with the same hash-key range. Sequence numbers are the streams' own.
// Shard iterators are opaque tokens that carry the position and are signed
// with an installation-wide key, so any pricestream process can continue
// them and a forged one is refused; they expire after five minutes as
// Kinesis's do.
//
// Supported operations: CreateStream, DeleteStream, DescribeStream,
// DescribeStreamSummary, ListStreams, ListShards, PutRecord, PutRecords,
// GetShardIterator, GetRecords. Errors carry Kinesis's __type and message.
//
// A [Handler] is safe for concurrent use. It imports stream only.
package kinesis
