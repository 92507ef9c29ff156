// Package cputime reads the CPU time the process has used. On a machine
// shared with other work, CPU per event is what a benchmark can still
// measure when wall time is inflated by waiting for a core; the bench
// reports it, and benchmarks report it beside ns/op.
//
// It imports nothing of the project and starts no goroutines.
package cputime

import "time"

// Process returns the CPU time (user and system) the process has used so
// far, or 0 where the system does not say.
func Process() time.Duration { return process() }
