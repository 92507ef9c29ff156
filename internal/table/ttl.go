package table

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
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
		if d.writes() == WritesBatched && attr != "" {
			return nil, invalid("table %q takes batched writes (writes: batched): it has no Time to Live", name)
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
	deleted, err := t.deleteExpired(ctx, due, d.TTLAttribute, now, until)
	if deleted > 0 {
		m.metrics.expired.WithLabelValues(t.name).Add(float64(deleted))
		m.logger.Debug("table items expired", "table", t.name, "items", deleted)
	}
	return deleted, err
}

// expireInFlight is how many of a pass's deletions wait for the engine at
// once.
const expireInFlight = 256

// deleteExpired deletes the items of keys that still hold, in attr, a time
// at or before now, until the wall clock passes until (after one deletion
// at least), and returns how many it deleted. Each deletion's tombstone is
// stored only while the version the index holds, the one seen expired, is
// the item's last (the engine's expected sequence), so an item written
// again meanwhile, or locked by a transaction, stays: the next pass looks
// at it again. The deletions are asynchronous writes, up to expireInFlight
// at once (one waiting for the engine after another took about a
// millisecond each on a busy machine, fewer than the bench's shop places
// orders: BenchmarkTableTTLDelete); they are not fsynced one by one.
func (t *Table) deleteExpired(ctx context.Context, keys []string, attr string, now, until time.Time) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if err := t.deleted(); err != nil {
		return 0, err
	}
	p, err := t.m.asyncPublisher()
	if err != nil {
		return 0, err
	}
	var deleted atomic.Int64
	f := newInflight(expireInFlight)
	for i, k := range keys {
		if i > 0 && time.Now().After(until) || ctx.Err() != nil || f.failed() != nil {
			break
		}
		if err := t.m.eng.CheckStorage(); err != nil {
			f.fail(fmt.Errorf("%w: %w", ErrUnavailable, err))
			break
		}
		e := t.ix.get(k)
		if e == nil || e.lock != nil || !expiredAt(e.item, attr, now) {
			continue
		}
		v := version{op: opDelete, flags: flagExisted | flagExpired, time: time.Now().UnixNano(), key: []byte(k)}
		if t.view.needsOld() {
			v.flags |= flagOld
			v.old = e.item
		}
		f.start()
		err := t.publishAsync(p, &v, e.seq, opDeleteItem, "expire", time.Now(), func(_ uint64, err error) {
			switch {
			case err == nil:
				deleted.Add(1)
			case isWrongLastSeq(err):
				t.conflicts.Inc() // written meanwhile: the next pass sees
				err = nil
			}
			f.finish(err)
		})
		if err != nil {
			f.finish(fmt.Errorf("table %q: expire: %w", t.name, classify(t.m.nc, err)))
			break
		}
	}
	err = f.wait()
	return int(deleted.Load()), err
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
