// Package catalog is pricestream's data catalog, the stand-in for the Glue
// Data Catalog and the Glue Schema Registry: databases, table definitions
// with every version kept, schema compatibility modes, and the bindings
// that make ingest check a stream's records against a table's schema.
//
// # Definitions
//
// A [Table] says where data lives ([Location]: a stream, a pricestream
// table, or a path of files), how it is encoded ([Format]: JSON, CSV with
// its delimiter, quote, header and null markers, Avro with the writer
// schema held here, Parquet), its schema (a [record.Schema], written as
// [{"name","type","nullable"}] with types in Glue/Hive syntax), partition
// keys, the event-time field with its format, a compatibility mode and
// free parameters. Definitions come from Go, from the native API's JSON,
// or from YAML and JSON documents ([DecodeDocuments], [Catalog.ApplyDocument]);
// every problem of a definition is reported at once with its field path
// (and line and column in a document) in a [*DefinitionError].
//
// # Storage and versions
//
// The catalog is one key-value bucket of the engine (ps_kv_catalog):
//
//	db.<database>                  the database
//	tbl.<database>.<table>         the table's latest version
//	ver.<database>.<table>.<n>     version n, kept once superseded
//	bind.<stream>                  the stream's ingest binding
//
// Every change to a table makes a new version. A writer reads the latest
// version, computes the next, copies the latest under its version key, and
// replaces the latest with a compare-and-set on its revision: of two
// racing writers one wins and the other recomputes from the new latest
// ([Catalog.ModifyTable]), so no change is lost, and a crash between the
// two writes leaves a harmless copy, never a gap. Versions are never
// rewritten; a deleted table's versions go with it. One key per version
// (rather than the bucket's history, which JetStream caps at 64) keeps
// every version, on NATS 2.9 too.
//
// # Compatibility
//
// Each table has a mode (NONE, DISABLED, BACKWARD, BACKWARD_ALL, FORWARD,
// FORWARD_ALL, FULL, FULL_ALL) with the schema registries' meaning for
// record schemas; a new version that breaks it is refused with an
// [*IncompatibleError] naming the column ([CheckCompatibility]).
//
// # Ingest checks
//
// A [Binding] names a stream, a table and a [Policy] (reject the put, or
// send records that do not match to a dead-letter stream). [Catalog.Start]
// loads the bindings and keeps them, and a compiled [StreamCheck] per bound
// stream, current from a watch of the bucket; [Catalog.StreamCheck] is a
// lock-free map lookup, so a stream without a binding costs nothing. The
// api package calls it on the put path.
//
// # Imports
//
// This package imports engine, record and record/avro. It must not import
// stream, table or anything above them (api, app): the api package joins
// catalog and streams. The crawler is the subpackage crawl.
//
// # Concurrency
//
// A [Catalog] is safe for concurrent use. [Catalog.Start] starts one
// goroutine, the watcher of bindings and tables; [Catalog.Close] stops it
// and waits. Tables and StreamChecks handed out are immutable (and shared
// between callers: change a [Table.Clone]). Catalog.kvMu, Catalog.decoded
// and cache.mu are never held together.
package catalog
