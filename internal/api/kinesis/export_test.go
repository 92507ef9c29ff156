package kinesis

import "time"

// SetClock makes the handler read time from now (for iterator expiry tests).
func (h *Handler) SetClock(now func() time.Time) { h.now = now }
