package etl

import (
	"sync"
	"time"
)

// logSampler lets a log message through at most once per interval and
// counts the occurrences it held back, so that a condition every row of a
// job meets (a sink table that refuses the job's keys, an engine that
// stores nothing) logs once a second with how many rows met it, not ten
// thousand times. Its zero value lets every message through; it is safe
// for concurrent use.
type logSampler struct {
	every time.Duration

	mu struct {
		sync.Mutex
		last time.Time // when a message last went through
		held int       // occurrences since, not logged
	}
}

// allow reports whether an occurrence at now is to be logged and, if so,
// how many occurrences the message stands for: this one and those held
// back since the last one logged.
func (l *logSampler) allow(now time.Time) (n int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.mu.last.IsZero() && now.Sub(l.mu.last) < l.every {
		l.mu.held++
		return 0, false
	}
	n = l.mu.held + 1
	l.mu.last, l.mu.held = now, 0
	return n, true
}
