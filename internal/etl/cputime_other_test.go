//go:build !unix

package etl

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
