// Package record is the shared vocabulary of pricestream's catalog and ETL,
// as pebble's internal/base is for pebble: the self-describing [Record] (a
// Glue DynamicRecord), its typed [Value]s, the catalog type system ([Type],
// [Schema]) with Glue's choice types, time formats ([TimeFormat]), casts
// ([Cast]), validation ([Validator]) and the text codecs (JSON and CSV).
//
// # Records and values
//
// A [Record] is an ordered list of named [Value]s. A Value is a 40-byte
// struct: a [Kind] tag and a scalar payload (null, boolean, int, long,
// double, exact decimal, string, binary, timestamp, date) or a reference to
// a nested struct, array or map. No map[string]any, no interface per value:
// a decoder writes fields into a Record that it reuses ([Record.Reset],
// [Record.Alloc]), so the steady state of decoding allocates only the one
// copy of the input that strings share, and nothing with
// [JSONDecoder.DecodeInPlace], whose strings share the input itself.
//
// # Types and schemas
//
// [ParseType] reads Glue/Hive type syntax (struct<a:int,b:array<string>>,
// decimal(10,2), choice<long,string>, timestamp('yyyy-MM-dd HH:mm:ss z'));
// [Type.String] prints it back. A [Schema] is an ordered list of [Column]s
// with the JSON form [{"name","type","nullable"}]. [MergeTypes] and
// [MergeSchemas] combine what a crawler saw in several files.
//
// # Codecs
//
// Codecs of text formats live here because the ETL hot path needs them
// without further dependencies: [JSONDecoder] (a hand-written scanner that
// decodes straight into the Record, within a few percent of the fastest JSON
// decoders into Go structs), [JSONReader], [JSONEncoder]; [CSVDecoder],
// [CSVReader], [CSVWriter]. Both take a [Schema] to decode typed. Binary
// formats are subpackages, so that a user of records does not link their
// libraries: record/avro (github.com/hamba/avro/v2) and record/parquet
// (github.com/parquet-go/parquet-go). Schema inference and format
// classification, the crawler's core, are record/infer. Every decoder
// satisfies [Decoder]; errors are [*DecodeError]s that say where.
//
// # Imports
//
// This package imports only the standard library. It and its subpackages
// must not import the engine, the stream, table or catalog packages, nor
// anything HTTP: everything above builds on it.
//
// # Concurrency
//
// A Record is not safe for concurrent mutation; concurrent reads are safe.
// Types, Schemas, TimeFormats, decoders and encoders are immutable after
// construction and safe for concurrent use (each goroutine decodes into its
// own Record). Readers and writers of streams of records (JSONReader,
// CSVReader, CSVWriter) belong to one goroutine. Nothing here starts
// goroutines.
package record
