package trigger

import "time"

// SetClock sets the clock the manager's runners judge record ages by; call
// it before the runners start.
func (m *Manager) SetClock(now func() time.Time) { m.now = now }
