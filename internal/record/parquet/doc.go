// Package parquet reads and writes Parquet files of pricestream records
// ([Reader], [Writer]), for crawls of files and file sinks.
//
// github.com/parquet-go/parquet-go reads and writes pages and footers; this
// package compiles the file's schema into a plan and assembles nested
// values (structs, LIST, MAP, repeated fields) from the columns' repetition
// and definition levels, and stripes them back when writing. Corrupt files
// give errors, never panics (panics of the library are recovered into
// errors).
//
// It imports only record and the Parquet library: no engine, no HTTP.
// Readers and writers belong to one goroutine. Nothing here starts
// goroutines.
package parquet
