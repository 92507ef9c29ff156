// Package jsonstr appends Go strings as JSON string literals: the one piece
// that every hand-written JSON encoder of the project (records, table items,
// API answers, trigger events, inference payloads) needs, and that
// encoding/json offers only through reflection.
//
// It imports nothing of the project and starts no goroutines.
package jsonstr
