package table

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Transactions (TransactWriteItems) over NATS, which has no atomic write
// of several subjects:
//
//  1. The coordinator reads every item, evaluates the conditions and
//     computes the new images. A false condition cancels the transaction
//     before anything is written.
//  2. It writes a lock marker (opLock) on each item's subject, conditional
//     on the version it read, as any single-item write. The marker holds the
//     item before the transaction, the transaction id and the image the
//     transaction will write. Readers see through markers to the committed
//     item; writers that meet one must resolve it first.
//  3. It writes the decision, commit, on the transaction's subject of the
//     transactions stream, conditional on that subject being empty. This
//     is the commit point: exactly one decision is ever stored per
//     transaction, so a recoverer that decides abort for a stale
//     transaction and a coordinator that decides commit cannot both win.
//  4. It replaces each marker with the final version (roll forward),
//     conditional on the marker.
//
// A marker whose transaction is decided is finished by whoever meets it:
// rolled forward after commit, or replaced by the item it held (opRestore)
// after abort. A marker without a decision is waited for up to
// Config.LockTimeout, then its transaction is decided abort. Readers treat
// a marker of a committed transaction as its final image, so no reader sees
// a transaction half applied, even while markers are being finished after a
// crash.

type decisionState uint8

const (
	decisionNone decisionState = iota
	decisionCommit
	decisionAbort
)

// decisionRecord is a transaction's decision on the transactions stream.
type decisionRecord struct {
	State string    `json:"state"` // "commit" or "abort"
	Time  time.Time `json:"time"`
}

// decisionCache remembers final decisions (they never change).
type decisionCache struct {
	mu sync.Mutex
	m  map[string]decisionState
}

func (c *decisionCache) init() { c.m = make(map[string]decisionState) }

func (c *decisionCache) get(id string) decisionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *decisionCache) put(id string, d decisionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100_000 {
		clear(c.m)
	}
	c.m[id] = d
}

// TxnRetention is how long transaction decisions are kept. A lock marker
// must be finished within it: a process down for longer after a crash in
// the middle of a transaction would find its decision gone and roll back.
const TxnRetention = 7 * 24 * time.Hour

func (m *Manager) txnStream() string { return m.eng.Name("tables", "txn") }

func (m *Manager) txnSubject(id string) string { return m.eng.Subject("tabletxn", id) }

func (m *Manager) ensureTxnStream(ctx context.Context) error {
	m.txnMu.Lock()
	defer m.txnMu.Unlock()
	if m.txnOK {
		return nil
	}
	_, err := m.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        m.txnStream(),
		Description: "pricestream: table transaction decisions",
		Subjects:    []string{m.eng.Subject("tabletxn") + ".*"},
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
		MaxAge:      TxnRetention,
		AllowDirect: true,
	})
	if err != nil {
		return fmt.Errorf("table: transactions stream: %w", classify(m.nc, err))
	}
	m.txnOK = true
	return nil
}

// decision returns the stored decision of a transaction, if any.
func (m *Manager) decision(ctx context.Context, id string) (decisionState, error) {
	if d := m.decisions.get(id); d != decisionNone {
		return d, nil
	}
	_, data, err := msgGetLast(ctx, m.nc, m.txnStream(), m.txnSubject(id))
	if errors.Is(err, errNoMessage) || errors.Is(err, ErrNotFound) {
		return decisionNone, nil
	}
	if err != nil {
		return decisionNone, fmt.Errorf("table: transaction %s: %w", id, classify(m.nc, err))
	}
	var rec decisionRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return decisionNone, fmt.Errorf("table: transaction %s: bad decision: %v", id, err)
	}
	d := decisionAbort
	if rec.State == "commit" {
		d = decisionCommit
	}
	m.decisions.put(id, d)
	return d, nil
}

// decide stores want as the transaction's decision unless one is stored
// already, and returns the decision that stands.
func (m *Manager) decide(ctx context.Context, id string, want decisionState) (decisionState, error) {
	if err := m.ensureTxnStream(ctx); err != nil {
		return decisionNone, err
	}
	rec := decisionRecord{State: "abort", Time: time.Now().UTC()}
	if want == decisionCommit {
		rec.State = "commit"
	}
	b, _ := json.Marshal(rec)
	_, err := m.js.PublishMsg(ctx, &nats.Msg{Subject: m.txnSubject(id), Data: b}, jetstream.WithExpectLastSequencePerSubject(0))
	if err == nil {
		m.decisions.put(id, want)
		return want, nil
	}
	if !isWrongLastSeq(err) {
		return decisionNone, fmt.Errorf("table: transaction %s: decide: %w", id, classify(m.nc, err))
	}
	return m.decision(ctx, id)
}

// finish replaces the lock marker e (at e.seq) by what decision d makes of
// it. Losing the race to another finisher is fine: the marker is gone.
func (m *Manager) finish(ctx context.Context, t *Table, subj string, e *entry, d decisionState) (uint64, error) {
	v := version{op: opRestore, time: time.Now().UnixNano(), key: []byte(e.key), item: e.item}
	if d == decisionCommit {
		switch {
		case e.lock.finalOp == opPut && !bytes.Equal(e.lock.final, e.item):
			v.op, v.item = opPut, e.lock.final
		case e.lock.finalOp == opDelete && e.item != nil:
			v.op, v.item = opDelete, nil
		}
		if v.op != opRestore && e.item != nil {
			v.flags |= flagExisted
			if t.view.needsOld() {
				v.flags |= flagOld
				v.old = e.item
			}
		}
	}
	ack, err := m.js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: appendVersion(nil, &v)}, jetstream.WithExpectLastSequencePerSubject(e.seq))
	if err != nil {
		if isWrongLastSeq(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("table %q: finish transaction %s: %w", t.name, e.lock.txn, classify(m.nc, err))
	}
	t.noteKeyWrite(v.key, ack.Sequence)
	if v.op != opRestore {
		t.writes[opTransact].Inc()
	}
	return ack.Sequence, nil
}

// resolveLock deals with the lock marker e that a writer met: it finishes
// a decided transaction, waits for an undecided one up to LockTimeout after
// the marker was written and then decides abort. It returns the item's
// entry as the engine has it afterwards.
func (m *Manager) resolveLock(ctx context.Context, t *Table, subj string, e *entry) (*entry, error) {
	backoff := 200 * time.Microsecond
	for e != nil && e.lock != nil {
		d, err := m.decision(ctx, e.lock.txn)
		if err != nil {
			return nil, err
		}
		if d == decisionNone && time.Since(time.Unix(0, e.time)) >= m.cfg.LockTimeout {
			if d, err = m.decide(ctx, e.lock.txn, decisionAbort); err != nil {
				return nil, err
			}
		}
		if d != decisionNone {
			if _, err := m.finish(ctx, t, subj, e, d); err != nil {
				return nil, err
			}
		} else {
			// The coordinator is (probably) still at work.
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: table %q: item locked by transaction %s: %v", ErrConflict, t.name, e.lock.txn, ctx.Err())
			}
			backoff = min(2*backoff, 20*time.Millisecond)
		}
		if e, err = t.readTip(ctx, subj); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// resolveLocks finishes the lock markers of t's index whose transaction is
// decided, or stale (or, when orphans is true, whose marker was written
// before since: the previous life of a process that alone uses the engine).
func (m *Manager) resolveLocks(ctx context.Context, t *Table, orphansBefore time.Time) {
	t.ix.mu.RLock()
	var locked []*entry
	for k := range t.ix.mu.locked {
		if e := t.ix.lookup(k); e != nil && e.lock != nil {
			locked = append(locked, e)
		}
	}
	t.ix.mu.RUnlock()
	for _, e := range locked {
		d, err := m.decision(ctx, e.lock.txn)
		if err != nil {
			m.logger.Warn("transaction recovery", "table", t.name, "err", err)
			return
		}
		written := time.Unix(0, e.time)
		if d == decisionNone && (time.Since(written) >= m.cfg.LockTimeout || written.Before(orphansBefore)) {
			if d, err = m.decide(ctx, e.lock.txn, decisionAbort); err != nil {
				m.logger.Warn("transaction recovery", "table", t.name, "err", err)
				return
			}
		}
		if d == decisionNone {
			continue
		}
		if _, err := m.finish(ctx, t, t.prefix+keyToken([]byte(e.key)), e, d); err != nil {
			m.logger.Warn("transaction recovery", "table", t.name, "err", err)
			return
		}
		m.logger.Info("transaction recovered", "table", t.name, "txn", e.lock.txn, "decision", map[decisionState]string{decisionCommit: "commit", decisionAbort: "abort"}[d])
	}
}

// TransactKind is the kind of one transaction action.
type TransactKind uint8

// The actions of TransactWriteItems.
const (
	TransactPut TransactKind = iota + 1
	TransactUpdate
	TransactDelete
	TransactConditionCheck
)

// TransactAction is one action of a transaction.
type TransactAction struct {
	Table *Table
	Kind  TransactKind
	// Item is the item of a put.
	Item item.Item
	// Key is the key of an update, delete or condition check.
	Key item.Key
	// Update is the update of TransactUpdate.
	Update *expr.Update
	// Condition must hold for the action to apply (required for a
	// condition check).
	Condition *expr.Condition
	// ReturnOldOnConditionFailure puts the item in the action's Reason
	// when its condition fails.
	ReturnOldOnConditionFailure bool
}

type txnItem struct {
	i     int // index in the actions
	a     *TransactAction
	key   []byte
	subj  string
	e     *entry // version read
	final []byte
	op    byte
	mark  uint64 // sequence of the written marker
}

// TransactWrite applies 1-MaxTransactItems actions on distinct items, in
// any tables, all or nothing. When a condition fails, or the items keep
// changing under it, nothing is written and the error is a
// *TransactionError with a reason per action.
func (m *Manager) TransactWrite(ctx context.Context, actions []TransactAction) error {
	start := time.Now()
	if len(actions) == 0 || len(actions) > MaxTransactItems {
		return invalid("a transaction holds 1-%d actions, got %d", MaxTransactItems, len(actions))
	}
	items := make([]*txnItem, len(actions))
	seen := make(map[string]bool, len(actions))
	size := 0
	for i := range actions {
		a := &actions[i]
		if a.Table == nil {
			return invalid("action %d: no table", i)
		}
		if a.Table.batched {
			return a.Table.refuseBatched("a transaction")
		}
		var key item.Key
		switch a.Kind {
		case TransactPut:
			var err error
			if key, err = a.Table.schema.KeyOf(a.Item); err != nil {
				return err
			}
			if err := a.Item.Validate(); err != nil {
				return err
			}
			size += a.Item.Size()
		case TransactUpdate:
			if a.Update == nil {
				return invalid("action %d: update without an update expression", i)
			}
			if err := a.Update.CheckKey(a.Table.schema); err != nil {
				return err
			}
			key = a.Key
		case TransactDelete:
			key = a.Key
		case TransactConditionCheck:
			if a.Condition == nil {
				return invalid("action %d: a condition check needs a condition", i)
			}
			key = a.Key
		default:
			return invalid("action %d: unknown kind %d", i, a.Kind)
		}
		kb := key.AppendOrdered(nil)
		id := a.Table.name + "\x00" + string(kb)
		if seen[id] {
			return invalid("Transaction request cannot include multiple operations on one item")
		}
		seen[id] = true
		items[i] = &txnItem{i: i, a: a, key: kb, subj: a.Table.subject(kb)}
	}
	if size > 4<<20 {
		return invalid("transaction items add up to %d bytes, more than 4 MB", size)
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.WriteTimeout)
	defer cancel()
	if err := m.ensureTxnStream(ctx); err != nil {
		return err
	}
	// Lock in one global order, so two transactions meet on their first
	// common item rather than deadlock.
	order := slices.Clone(items)
	slices.SortFunc(order, func(a, b *txnItem) int {
		return cmp.Or(cmp.Compare(a.a.Table.name, b.a.Table.name), bytes.Compare(a.key, b.key))
	})
	for attempt := 0; ; attempt++ {
		err := m.tryTransact(ctx, items, order)
		if err == nil {
			m.metrics.txns.WithLabelValues("committed").Inc()
			m.metrics.txnSeconds.Observe(time.Since(start).Seconds())
			return nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= 8 || ctx.Err() != nil {
			var te *TransactionError
			switch {
			case errors.As(err, &te):
				m.metrics.txns.WithLabelValues("canceled").Inc()
			case errors.Is(err, ErrConflict):
				m.metrics.txns.WithLabelValues("conflict").Inc()
				reasons := make([]Reason, len(items))
				for i := range reasons {
					reasons[i] = Reason{Code: ReasonTransactionConflict, Message: "Transaction is ongoing for the item"}
				}
				return &TransactionError{Reasons: reasons}
			}
			return err
		}
		d := time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond)))
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
}

// tryTransact makes one attempt; ErrConflict means it wrote nothing that
// stands and may be retried.
func (m *Manager) tryTransact(ctx context.Context, items, order []*txnItem) error {
	// A transaction already begun finishes (decide, finish) whatever the
	// disk; a new one is refused while the data directory is nearly full.
	if err := m.eng.CheckStorage(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	id := newID() + newID()
	// Read and evaluate.
	reasons := make([]Reason, len(items))
	failed := false
	for _, ti := range items {
		t := ti.a.Table
		if err := t.ix.waitFor(ctx, t.lastWrite.Load()); err != nil {
			return err
		}
		e := t.ix.get(string(ti.key))
		if e != nil && e.lock != nil {
			d, err := m.decision(ctx, e.lock.txn)
			if err != nil {
				return err
			}
			if d == decisionNone && time.Since(time.Unix(0, e.time)) < m.cfg.LockTimeout {
				return fmt.Errorf("%w: item locked by transaction %s", ErrConflict, e.lock.txn)
			}
			if e, err = m.resolveLock(ctx, t, ti.subj, e); err != nil {
				return err
			}
		}
		ti.e = e
		var cur item.Item
		if e != nil {
			var err error
			if cur, err = decodeItem(e.item); err != nil {
				return err
			}
		}
		var next item.Item
		var err error
		ti.op = opPut
		switch ti.a.Kind {
		case TransactPut:
			err = checkCondition(ti.a.Condition, cur)
			next = ti.a.Item
		case TransactUpdate:
			k, kerr := t.schema.DecodeKey(ti.key)
			if kerr != nil {
				return kerr
			}
			next, _, err = t.applyUpdate(k, ti.a.Update, ti.a.Condition, cur)
		case TransactDelete:
			err = checkCondition(ti.a.Condition, cur)
			ti.op = opDelete
		case TransactConditionCheck:
			err = checkCondition(ti.a.Condition, cur)
			ti.op = opRestore
		}
		var ce *ConditionError
		switch {
		case errors.As(err, &ce):
			failed = true
			t.condFailures.Inc()
			reasons[ti.i] = Reason{Code: ReasonConditionFailed, Message: "The conditional request failed"}
			if ti.a.ReturnOldOnConditionFailure {
				reasons[ti.i].Item = cur
			}
			continue
		case err != nil:
			return err
		}
		reasons[ti.i] = Reason{Code: ReasonNone}
		if next != nil {
			ti.final, _ = next.AppendBinary(nil)
		}
	}
	if failed {
		return &TransactionError{Reasons: reasons}
	}
	// Lock.
	var locked []*txnItem
	rollback := func() {
		if len(locked) == 0 {
			return
		}
		rctx := context.WithoutCancel(ctx)
		if d, err := m.decide(rctx, id, decisionAbort); err != nil || d != decisionAbort {
			return // a commit stands (impossible before we commit) or the engine failed: recovery finishes it
		}
		for _, ti := range locked {
			e := &entry{key: string(ti.key), seq: ti.mark, item: itemOf(ti.e), lock: &lock{txn: id}}
			_, _ = m.finish(rctx, ti.a.Table, ti.subj, e, decisionAbort)
		}
	}
	now := time.Now().UnixNano()
	for _, ti := range order {
		var tip uint64
		if ti.e != nil {
			tip = ti.e.seq
		}
		v := version{op: opLock, time: now, key: ti.key, item: itemOf(ti.e), txn: []byte(id), finalOp: ti.op, final: ti.final}
		ack, err := m.js.PublishMsg(ctx, &nats.Msg{Subject: ti.subj, Data: appendVersion(nil, &v)}, jetstream.WithExpectLastSequencePerSubject(tip))
		if err != nil {
			rollback()
			if isWrongLastSeq(err) {
				ti.a.Table.conflicts.Inc()
				return fmt.Errorf("%w: item changed during the transaction", ErrConflict)
			}
			return fmt.Errorf("table: transaction: %w", classify(m.nc, err))
		}
		ti.mark = ack.Sequence
		ti.a.Table.noteKeyWrite(ti.key, ack.Sequence)
		locked = append(locked, ti)
	}
	// Every lock marker is durable before the commit point is: a decision
	// that outlived a marker would commit part of the transaction.
	synced := map[string]bool{}
	for _, ti := range order {
		if name := ti.a.Table.jsName; !synced[name] {
			synced[name] = true
			if err := m.eng.Durable(ctx, name); err != nil {
				rollback()
				return fmt.Errorf("%w: transaction %s: %v", ErrUnavailable, id, err)
			}
		}
	}
	// Commit point.
	d, err := m.decide(ctx, id, decisionCommit)
	if err != nil {
		// The decision may or may not be stored; recovery finishes the
		// markers either way.
		return fmt.Errorf("%w: transaction %s: outcome unknown: %v", ErrUnavailable, id, err)
	}
	if d != decisionCommit {
		rollback()
		return fmt.Errorf("%w: transaction %s was aborted by a recoverer", ErrConflict, id)
	}
	if err := m.eng.Durable(ctx, m.txnStream()); err != nil {
		return fmt.Errorf("%w: transaction %s: outcome unknown: %v", ErrUnavailable, id, err)
	}
	// Roll forward.
	var firstErr error
	for _, ti := range order {
		e := &entry{key: string(ti.key), seq: ti.mark, item: itemOf(ti.e), lock: &lock{txn: id, finalOp: ti.op, final: ti.final}}
		if _, err := m.finish(ctx, ti.a.Table, ti.subj, e, decisionCommit); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		// Committed: readers already see it, recovery finishes the rest.
		m.logger.Warn("transaction committed; some locks left for recovery", "txn", id, "err", firstErr)
	}
	return nil
}

func itemOf(e *entry) []byte {
	if e == nil {
		return nil
	}
	return e.item
}
