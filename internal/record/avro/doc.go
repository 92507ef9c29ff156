// Package avro is the Avro codec of pricestream records: the binary
// encoding of datums against a writer schema ([Codec], which the catalog
// holds for a stream or table), and object container files ([FileReader],
// [FileWriter]).
//
// github.com/hamba/avro/v2 parses and checks schemas and writes container
// files; the package compiles a schema once into a tree of operations that
// reads a datum straight into a [record.Record], because hamba's generic
// decoding (map[string]any) costs an allocation per value. [SchemaJSON]
// derives an Avro schema from a catalog schema for sinks that write Avro.
//
// It imports only record and the Avro and compression libraries: no engine,
// no HTTP. A Codec is safe for concurrent use; FileReader and FileWriter
// belong to one goroutine. Nothing here starts goroutines.
package avro
