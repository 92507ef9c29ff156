// Package infer is the engine-free heart of the crawler: it classifies data
// (JSON, JSON lines, CSV with its delimiter and header, Avro containers,
// Parquet files) with a certainty, as Glue's classifiers do ([Classify]), and
// infers the schema of its records ([Bytes], [File], [Inferrer]): types,
// nullability, nested structs, choice types where a field was seen with
// several types, timestamp formats detected from the text, and integer ids
// kept exact as long even beyond 2^53. [record.MergeSchemas] combines the
// schemas of several files.
//
// The crawler command (reading streams, tables and files, and writing the
// catalog) builds on this package; it lives with the catalog. This package
// imports record and its codecs only: no engine, no HTTP.
//
// An [Inferrer] belongs to one goroutine; the functions are safe for
// concurrent use. Nothing here starts goroutines.
package infer
