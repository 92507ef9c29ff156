package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Time to Live: a table's items expire at the time their TTL attribute
// names (seconds since the Unix epoch), as DynamoDB's do. The compactor
// deletes them on its pass (every Config.CompactInterval); each deletion
// is a conditional write of its own, made only while the item still holds
// a time that has passed, so an item rewritten with a later time (or
// without one) in the meantime stays. Deletions are not fsynced one by
// one (the engine's next sync makes them durable): one a crash of the
// machine loses is made again by the next pass. Until its deletion an
// expired item is read like any other, as in DynamoDB.

// expireChunk is how many index entries the expiry pass looks at under
// one hold of the index's read lock.
var expireChunk = 1024

// errNotExpired ends an expiry's write when the item holds no passed time.
var errNotExpired = errors.New("table: item not expired")

// UpdateTTL sets the table's TTL attribute ([Spec.TTLAttribute]; empty
// turns expiry off) and returns the table's description. Every process
// with the table open applies it from its next compactor pass. It returns
// ErrNotFound for a missing table.
func (m *Manager) UpdateTTL(ctx context.Context, name, attr string) (*Info, error) {
	if err := validateTTLAttribute(attr); err != nil {
		return nil, err
	}
	for {
		d, rev, err := m.definitionEntry(ctx, name)
		if err != nil {
			return nil, err
		}
		if d.TTLAttribute == attr {
			return d.info(), nil
		}
		d.TTLAttribute = attr
		b, _ := json.Marshal(d)
		reg, err := m.registry(ctx) // made by definitionEntry: no wait
		if err != nil {
			return nil, err
		}
		_, err = reg.Update(ctx, regKey(name), b, rev)
		if err == nil {
			m.logger.Info("table ttl updated", "table", name, "ttl_attribute", attr)
			return d.info(), nil
		}
		if !isWrongLastSeq(err) {
			return nil, fmt.Errorf("table %q: update ttl: %w", name, classify(m.nc, err))
		}
		// The definition changed meanwhile: read it again.
	}
}

// expire deletes t's items whose TTL attribute holds a time at or before
// now, and returns how many it deleted. It stops deleting once the wall
// clock passes until (after one deletion at least), leaving the rest to
// the next pass, so that a table with a backlog of expired items does not
// hold up the compactor's work on the other tables.
func (m *Manager) expire(ctx context.Context, t *Table, now, until time.Time) (int, error) {
	d, err := m.definition(ctx, t.name)
	if err != nil || d.ID != t.id || d.TTLAttribute == "" {
		return 0, err
	}
	// The pass reads the index: first let it apply this process's writes
	// so far, so that an item written here before the pass is seen by it
	// (the index applies writes as the engine delivers them back).
	if err := t.syncRead(ctx, false); err != nil {
		return 0, err
	}
	var due []string
	from, done := "", false
	for !done {
		done = true
		n := 0
		t.ix.ascend(from, "", func(e *entry) bool {
			if n == expireChunk {
				from, done = e.key, false
				return false
			}
			n++
			if e.lock == nil && expiredAt(e.item, d.TTLAttribute, now) {
				due = append(due, e.key)
			}
			return true
		})
	}
	deleted := 0
	for _, k := range due {
		if deleted > 0 && time.Now().After(until) {
			break
		}
		res, err := t.write(ctx, []byte(k), opDeleteItem, false, WriteOptions{expired: true, NoSync: true}, nil, func(cur item.Item) (item.Item, bool, error) {
			if cur == nil || !ttlPassed(cur[d.TTLAttribute], now) {
				return nil, false, errNotExpired
			}
			return nil, true, nil
		})
		switch {
		case errors.Is(err, errNotExpired):
		case err != nil:
			return deleted, err
		case res.Written:
			deleted++
		}
	}
	if deleted > 0 {
		m.metrics.expired.WithLabelValues(t.name).Add(float64(deleted))
		m.logger.Debug("table items expired", "table", t.name, "items", deleted)
	}
	return deleted, nil
}

// expiredAt reports whether the binary item b holds, in the attribute
// attr, a time at or before now.
func expiredAt(b []byte, attr string, now time.Time) bool {
	v, ok, err := item.BinaryAttr(b, attr)
	return ok && err == nil && ttlPassed(v, now)
}

// ttlPassed reports whether v is a number of seconds since the Unix epoch
// at or before now. Anything else (absent, not a number, not finite) does
// not expire.
func ttlPassed(v item.Value, now time.Time) bool {
	if v.Type() != item.N {
		return false
	}
	s := v.N().Float64()
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return false
	}
	return s <= float64(now.Unix())
}
