// Package app builds pricestream's parts for the chosen roles and runs them
// together. It is the only package that imports every part, and the only
// place (with cmd) where configuration is read: a YAML file, then
// PRICESTREAM_* environment variables, then flags.
//
// # Run and shutdown
//
// [App.Run] runs the parts in a run group (github.com/oklog/run): when one
// stops (a signal, an error, the context), the others are interrupted.
// Shutdown has two phases: the HTTP server stops accepting and finishes
// in-flight requests within Config.ShutdownTimeout, then the streams finish
// their writes and the engine drains and stops.
package app
