package trigger

import (
	"context"
	"time"
)

// SetClock sets the clock the manager's runners judge record ages by; call
// it before the runners start.
func (m *Manager) SetClock(now func() time.Time) { m.now = now }

// CommittedCheckpoint returns the checkpoint of a trigger's partition as
// last written to the engine (not the runner's newer one in memory).
func (m *Manager) CommittedCheckpoint(ctx context.Context, trigger string, part int) (Checkpoint, bool, error) {
	return m.cps.get(ctx, trigger, part)
}
