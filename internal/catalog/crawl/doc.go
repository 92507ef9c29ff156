// Package crawl is the catalog's crawler, the stand-in for Glue crawlers:
// it reads files ([Files]: CSV, JSON and JSON lines, Avro, Parquet, or
// directories of them) or a sample of records ([Records] over a [Source]:
// a stream from TRIM_HORIZON, later a table), classifies the format with a
// certainty as Glue's classifiers do, infers the schema with
// record/infer, and creates or updates the catalog table under a
// schema-change policy ([Apply], [Plan]): UPDATE_IN_DATABASE or LOG for
// changes, LOG, DEPRECATE_IN_DATABASE or DELETE_FROM_DATABASE for columns
// that vanished.
//
// Unlike Glue's, the crawler reads streams: a stream's records are
// classified together and inferred like JSON lines or CSV lines.
//
// # Split between client and server
//
// `pricestream crawl` reads and infers on the client and sends the
// [Result] (a few kilobytes: format, columns, counts) to the server, which
// applies it with [Apply] atomically against the table's latest version.
// So a crawl of gigabytes of files moves no data through the server, and
// the inference's CPU is the client's, not the ingest path's.
//
// # Imports and concurrency
//
// This package imports catalog and the record packages; it must not import
// stream, table, api or client (sources over them live with their callers:
// the CLI's stream source is in cmd/pricestream). A crawl runs in the
// calling goroutine and starts none; Progress is called from it.
package crawl
