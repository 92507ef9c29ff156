package table

import (
	"context"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Buffered reports how many changes s has read ahead of its reader.
func Buffered(s *Subscription) int { return len(s.ch) }

// Attached reports whether s reads from its table index's in-process feed.
func Attached(s *Subscription) bool { return s.t.ix.feed.attached(s) }

// SubscribeEngine subscribes as Subscribe does, but reads from an engine
// consumer of the subscription's own and never from the index's feed: the
// path before the feed, to compare with.
func SubscribeEngine(ctx context.Context, t *Table, p Position, opts ...SubscribeOption) (*Subscription, error) {
	from, err := t.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	return t.subscribeFrom(ctx, from, true, newSubscribeConfig(opts))
}

// Fallbacks reports how many times t's subscriptions fell behind the feed.
func Fallbacks(t *Table) float64 {
	return testutil.ToFloat64(t.m.metrics.feedFallbacks.WithLabelValues(t.name))
}

// CacheFailedHandle caches a handle of table name whose index stopped
// with err before it became ready, as one does whose start found the
// engine unreachable.
func CacheFailedHandle(ctx context.Context, m *Manager, name string, err error) error {
	d, derr := m.definition(ctx, name)
	if derr != nil {
		return derr
	}
	t, terr := newTable(m, d)
	if terr != nil {
		return terr
	}
	t.ix.fail(err)
	m.mu.Lock()
	m.mu.tables[name] = t
	m.mu.Unlock()
	return nil
}
