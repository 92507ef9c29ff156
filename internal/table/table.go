package table

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Table is a handle on one table. It is safe for concurrent use.
type Table struct {
	m         *Manager
	name      string
	id        string
	jsName    string
	prefix    string // subject prefix of item keys, ending in '.'
	wildcard  string // every item subject
	schema    item.KeySchema
	view      ViewType
	retention time.Duration
	history   History
	created   time.Time
	ix        *index
	// batched is set for a table of batched writes ([WritesBatched]),
	// whose writes bat stores.
	batched bool
	bat     batcher

	lastWrite atomic.Uint64 // highest sequence this process wrote
	// floorDone is the floor below which the compactor last removed the
	// stream's messages (compact_floor.go).
	floorDone atomic.Uint64
	// stats is what the table's stream held at the compactor's last pass
	// (for the metrics); nil before the first.
	stats atomic.Pointer[streamStats]
	// keyWrites holds, per key, the newest sequence this process wrote
	// that the index may not have applied yet. A write waits only for
	// its own key's earlier writes to be indexed (so that its expected
	// sequence is current), not for every write of the table: writers of
	// different keys do not queue behind each other.
	keyWrites struct {
		sync.Mutex
		m map[string]uint64
	}

	writes       [numWriteOps]prometheus.Counter
	conflicts    prometheus.Counter
	condFailures prometheus.Counter
	writeTime    prometheus.Observer
}

func newTable(m *Manager, d *definition) (*Table, error) {
	ks, err := d.schema()
	if err != nil {
		return nil, err
	}
	prefix := m.eng.Subject("table", d.Name) + "."
	t := &Table{
		m: m, name: d.Name, id: d.ID, jsName: m.jsName(d.Name), prefix: prefix, wildcard: prefix + "*",
		schema: ks, view: d.StreamView, retention: d.ChangeRetention, history: d.history(), created: d.Created,
		conflicts:    m.metrics.conflicts.WithLabelValues(d.Name),
		condFailures: m.metrics.condFailures.WithLabelValues(d.Name),
		writeTime:    m.metrics.writeSeconds.WithLabelValues(d.Name),
	}
	for op, name := range writeOpNames {
		t.writes[op] = m.metrics.writes.WithLabelValues(d.Name, name)
	}
	t.ix = newIndex(t)
	t.batched = d.writes() == WritesBatched
	t.bat.t = t
	return t, nil
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Sync returns once every write the table stored before the call is
// durable: at once unless the engine fsyncs before acknowledging, and
// then by a group sync shared with the table's other writers (see
// [WriteOptions.NoSync]).
func (t *Table) Sync(ctx context.Context) error {
	if err := t.m.eng.Durable(ctx, t.jsName); err != nil {
		return fmt.Errorf("table %q: sync: %w", t.name, err)
	}
	return nil
}

// Schema returns the table's key schema.
func (t *Table) Schema() item.KeySchema { return t.schema }

// WriteTimeout is how long a write may take ([Config.WriteTimeout]). A
// write whose context has no deadline as near gets a context of its own
// with this deadline; a writer that makes many writes one after another
// can save that (a context and a timer per write) by giving them a
// context whose deadline is no further off.
func (t *Table) WriteTimeout() time.Duration { return t.m.cfg.WriteTimeout }

// StreamView returns the images the table's change stream carries.
func (t *Table) StreamView() ViewType { return t.view }

// Info returns the table's definition and the index's counts.
func (t *Table) Info() *Info {
	items, bytes := t.ix.size()
	info := &Info{Name: t.name, Key: t.schema, StreamView: t.view, ChangeRetention: t.retention, ChangeHistory: t.history, Writes: WritesItem, Created: t.created, ID: t.id, Items: items, Bytes: bytes}
	if t.batched {
		info.Writes = WritesBatched
	}
	return info
}

// IndexLoadTime returns how long the index took to catch up with the
// engine when the table was opened in this process.
func (t *Table) IndexLoadTime() time.Duration { return t.ix.loadTime }

func (t *Table) subject(key []byte) string {
	if len(key) > maxPlainKeyToken {
		return t.prefix + keyToken(key)
	}
	// The prefix, 'k' and the key's base64url text, built in one
	// allocation (a write's subject).
	enc := base64.RawURLEncoding
	var sb strings.Builder
	sb.Grow(len(t.prefix) + 1 + enc.EncodedLen(len(key)))
	sb.WriteString(t.prefix)
	sb.WriteByte('k')
	var buf [96]byte
	for len(key) > 0 {
		n := min(len(key), 72) // whole 3-byte groups, 96 characters
		enc.Encode(buf[:], key[:n])
		sb.Write(buf[:enc.EncodedLen(n)])
		key = key[n:]
	}
	return sb.String()
}

func (t *Table) noteWrite(seq uint64) {
	for {
		cur := t.lastWrite.Load()
		if seq <= cur || t.lastWrite.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// noteKeyWrite remembers a write of key at seq, and forgets the writes the
// index has applied once there are many.
func (t *Table) noteKeyWrite(key []byte, seq uint64) {
	t.noteWrite(seq)
	t.keyWrites.Lock()
	defer t.keyWrites.Unlock()
	if t.keyWrites.m == nil {
		t.keyWrites.m = map[string]uint64{}
	}
	if len(t.keyWrites.m) >= 4096 {
		applied := t.ix.applied.Load()
		for k, s := range t.keyWrites.m {
			if s <= applied {
				delete(t.keyWrites.m, k)
			}
		}
	}
	if seq > t.keyWrites.m[string(key)] {
		t.keyWrites.m[string(key)] = seq
	}
}

// keyWrite returns the newest sequence this process wrote for key (0 if
// none is remembered).
func (t *Table) keyWrite(key []byte) uint64 {
	t.keyWrites.Lock()
	defer t.keyWrites.Unlock()
	return t.keyWrites.m[string(key)]
}

// ParseKey checks a Key parameter against the table's schema.
func (t *Table) ParseKey(key item.Item) (item.Key, error) { return t.schema.ParseKey(key) }

// entryOf decodes the message at seq into an index entry.
func entryOf(seq uint64, data []byte) (*entry, error) {
	var v version
	if err := decodeVersion(data, &v); err != nil {
		return nil, err
	}
	e := &entry{key: string(v.key), seq: seq, time: v.time}
	switch v.op {
	case opPut, opRestore:
		e.item = v.item
	case opLock:
		e.item = v.item
		e.lock = &lock{txn: string(v.txn), finalOp: v.finalOp, final: v.final}
	}
	return e, nil
}

// readTip reads the last message of an item's subject from the engine
// (the stream leader): the truth after a conflict. It returns nil when the
// subject has no message.
func (t *Table) readTip(ctx context.Context, subj string) (*entry, error) {
	seq, data, err := msgGetLast(ctx, t.m.nc, t.jsName, subj)
	if errors.Is(err, errNoMessage) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("table %q: read item: %w", t.name, classify(t.m.nc, err))
	}
	e, err := entryOf(seq, data)
	if err != nil {
		return nil, fmt.Errorf("table %q: message %d: %w", t.name, seq, err)
	}
	return e, nil
}

// visible returns the binary item readers see in e: the committed item, or
// what a committed transaction whose lock still stands wrote.
func (t *Table) visible(ctx context.Context, e *entry) ([]byte, error) {
	if e == nil {
		return nil, nil
	}
	if e.lock == nil {
		return e.item, nil
	}
	d, err := t.m.decision(ctx, e.lock.txn)
	if err != nil {
		return nil, err
	}
	if d != decisionCommit {
		return e.item, nil
	}
	switch e.lock.finalOp {
	case opPut:
		return e.lock.final, nil
	case opDelete:
		return nil, nil
	}
	return e.item, nil
}

func decodeItem(b []byte) (item.Item, error) {
	if b == nil {
		return nil, nil
	}
	it, err := item.DecodeBinary(b)
	if err != nil {
		return nil, fmt.Errorf("table: stored item: %w", err)
	}
	return it, nil
}

// GetOptions are the options of a read.
type GetOptions struct {
	// Consistent reads the item's last version from the engine rather than
	// the index. Without it a read still sees every write this process
	// made before it.
	Consistent bool
	// Projection, if set, selects the attributes to return.
	Projection *expr.Projection
}

// Get returns the item with the given key, or nil when there is none.
func (t *Table) Get(ctx context.Context, key item.Key, opts GetOptions) (item.Item, error) {
	kb := key.AppendOrdered(nil)
	var e *entry
	switch {
	case opts.Consistent && t.batched:
		// Every batch stored before the read, applied by the index.
		if err := t.syncRead(ctx, true); err != nil {
			return nil, err
		}
		e = t.ix.get(string(kb))
	case opts.Consistent:
		var err error
		if e, err = t.readTip(ctx, t.subject(kb)); err != nil {
			return nil, err
		}
	default:
		if err := t.ix.waitFor(ctx, t.lastWrite.Load()); err != nil {
			return nil, err
		}
		e = t.ix.get(string(kb))
	}
	b, err := t.visible(ctx, e)
	if err != nil {
		return nil, err
	}
	if opts.Projection == nil {
		return decodeItem(b)
	}
	// Decode only the top-level attributes the projection reaches.
	paths := opts.Projection.Paths()
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p[0].Name
	}
	it, err := item.DecodeBinaryAttrs(b, names)
	if err != nil {
		return nil, fmt.Errorf("table: stored item: %w", err)
	}
	if it == nil {
		return nil, nil
	}
	return opts.Projection.Apply(it), nil
}

// GetAttrs returns the named top-level attributes of the item at key (nil
// when there is none), decoding only those. It reads the index once it has
// applied this process's writes of that key, not, as [Table.Get] waits
// for, this process's writes of every key: for a reader that needs one item
// current with its own writes, such as a check before a [Table.Modify] of
// the same key, without waiting on writes to other items.
func (t *Table) GetAttrs(ctx context.Context, key item.Key, names []string) (item.Item, error) {
	kb := key.AppendOrdered(nil)
	seq := t.keyWrite(kb)
	if t.batched {
		seq = t.lastWrite.Load() // its writes are not noted by key
	}
	if err := t.ix.waitFor(ctx, seq); err != nil {
		return nil, err
	}
	b, err := t.visible(ctx, t.ix.get(string(kb)))
	if err != nil {
		return nil, err
	}
	it, err := item.DecodeBinaryAttrs(b, names)
	if err != nil {
		return nil, fmt.Errorf("table: stored item: %w", err)
	}
	return it, nil
}

// WriteOptions are the options of a write.
type WriteOptions struct {
	// Condition must hold for the item as it is (a missing item is nil)
	// for the write to apply; otherwise the write fails with a
	// *ConditionError.
	Condition *expr.Condition
	// NoSync returns once the engine stored the write, without waiting
	// for it to be fsynced under the engine's fsync-always policy:
	// [Table.Sync] makes it, and every write stored before, durable. For
	// writers that can write again what a crash of the machine loses
	// (an ETL job's sink, which syncs before it commits a checkpoint);
	// readers see the write as soon as it is stored either way.
	NoSync bool
	// Unchecked stores a put or delete without the engine checking that
	// the item's last version is the one this process's index holds (the
	// optimistic-concurrency check of every other write). The check costs
	// the engine a read of the block holding that version, and keeps the
	// block in memory: on a table whose keys are written at different
	// rates it keeps most of the recent history's blocks in memory. For a
	// writer that alone writes its keys, one write per key at a time (an
	// ETL job's sink); another writer's concurrent write of the same item,
	// or a transaction's lock marker written meanwhile, is replaced
	// without notice. It cannot be combined with a Condition.
	Unchecked bool

	// expired marks a delete as the TTL expiry's (flagExpired).
	expired bool
}

// WriteResult is the outcome of a write.
type WriteResult struct {
	// New is the item after the write (nil when absent).
	New item.Item
	// Written is false when the write changed nothing and stored nothing.
	Written bool
	// Seq is the engine sequence of the stored version (when Written).
	Seq uint64

	old    item.Item // the item before the write, when the write decoded it
	oldBin []byte    // its binary form (nil when absent)
}

// Old returns the item before the write (nil when it was absent). A write
// that did not need the item it replaced (an unconditional Put) did not
// decode it; Old decodes it then, on each call. It returns nil too when
// the replaced item's stored bytes cannot be decoded (which only damaged
// storage gives, and which the write has replaced).
func (r *WriteResult) Old() item.Item {
	if r.old != nil || r.oldBin == nil {
		return r.old
	}
	old, err := item.DecodeBinary(r.oldBin)
	if err != nil {
		return nil
	}
	return old
}

// ReturnValues chooses what a write returns, as DynamoDB's parameter.
type ReturnValues uint8

// The ReturnValues choices.
const (
	ReturnNone ReturnValues = iota
	ReturnAllOld
	ReturnUpdatedOld
	ReturnAllNew
	ReturnUpdatedNew
)

// ParseReturnValues parses DynamoDB's names ("" is NONE).
func ParseReturnValues(s string) (ReturnValues, error) {
	switch s {
	case "", "NONE":
		return ReturnNone, nil
	case "ALL_OLD":
		return ReturnAllOld, nil
	case "UPDATED_OLD":
		return ReturnUpdatedOld, nil
	case "ALL_NEW":
		return ReturnAllNew, nil
	case "UPDATED_NEW":
		return ReturnUpdatedNew, nil
	}
	return 0, invalid("ReturnValues %q: want NONE, ALL_OLD, UPDATED_OLD, ALL_NEW or UPDATED_NEW", s)
}

// Returned returns the attributes rv asks for; u is the update of an
// UpdateItem (for UPDATED_OLD and UPDATED_NEW), nil otherwise.
func (r *WriteResult) Returned(rv ReturnValues, u *expr.Update) item.Item {
	switch rv {
	case ReturnAllOld:
		return r.Old()
	case ReturnAllNew:
		return r.New
	case ReturnUpdatedOld:
		old := r.Old()
		if u == nil || old == nil {
			return nil
		}
		return u.Projection().Apply(old)
	case ReturnUpdatedNew:
		if u == nil || r.New == nil {
			return nil
		}
		return u.Projection().Apply(r.New)
	}
	return nil
}

// Put stores it, replacing any item with its key.
func (t *Table) Put(ctx context.Context, it item.Item, opts WriteOptions) (*WriteResult, error) {
	key, err := t.schema.KeyOf(it)
	if err != nil {
		return nil, err
	}
	if err := it.Validate(); err != nil {
		return nil, err
	}
	return t.put(ctx, key, it, nil, opts)
}

// PutEncoded is [Table.Put] of an item in its binary form, as
// [item.Item.AppendBinary] writes it or the item package's AppendBinary
// functions build it: for a writer that holds its rows in another form
// (the ETL's table sink) and would otherwise build an item only for Put to
// encode it. The write is Put's in all else (condition, change record, old
// image, read-your-writes). data is checked as Put checks an item, with
// Put's errors ([item.KeySchema.KeyOfBinary]: a well-formed binary item
// with the key attributes of the table's types, and within the limits of
// names, nesting and size), and is not retained past the call. The
// result's New is nil: the item is not decoded.
func (t *Table) PutEncoded(ctx context.Context, data []byte, opts WriteOptions) (*WriteResult, error) {
	key, err := t.schema.KeyOfBinary(data)
	if err != nil {
		return nil, err
	}
	return t.put(ctx, key, nil, data, opts)
}

// put stores it, or the item whose binary form is bin when bin is not nil
// (checked by the caller).
func (t *Table) put(ctx context.Context, key item.Key, it item.Item, bin []byte, opts WriteOptions) (*WriteResult, error) {
	if t.batched {
		if bin == nil {
			var err error
			if bin, err = it.AppendBinary(nil); err != nil {
				return nil, err
			}
		}
		r, err := t.writeBatched(ctx, opPut, key.AppendOrdered(nil), bin, opts)
		if err == nil {
			r.New = it
		}
		return r, err
	}
	if opts.Condition == nil {
		// The write replaces whatever is there: the current item need not
		// be decoded.
		return t.write(ctx, key.AppendOrdered(nil), opPutItem, true, opts, bin, func(item.Item) (item.Item, bool, error) {
			return it, false, nil
		})
	}
	return t.write(ctx, key.AppendOrdered(nil), opPutItem, false, opts, bin, func(cur item.Item) (item.Item, bool, error) {
		if err := checkCondition(opts.Condition, cur); err != nil {
			return nil, false, err
		}
		return it, false, nil
	})
}

// Update applies u to the item with the given key, creating it when it does
// not exist, as UpdateItem does.
func (t *Table) Update(ctx context.Context, key item.Key, u *expr.Update, opts WriteOptions) (*WriteResult, error) {
	if u == nil {
		return nil, invalid("no update")
	}
	if err := u.CheckKey(t.schema); err != nil {
		return nil, err
	}
	if t.batched {
		return nil, t.refuseBatched("UpdateItem")
	}
	return t.write(ctx, key.AppendOrdered(nil), opUpdateItem, false, opts, nil, func(cur item.Item) (item.Item, bool, error) {
		return t.applyUpdate(key, u, opts.Condition, cur)
	})
}

func (t *Table) applyUpdate(key item.Key, u *expr.Update, cond *expr.Condition, cur item.Item) (item.Item, bool, error) {
	if err := checkCondition(cond, cur); err != nil {
		return nil, false, err
	}
	base := cur
	if base == nil {
		base = key.Item(t.schema)
	}
	next, err := u.Apply(base)
	if err != nil {
		return nil, false, err
	}
	if err := next.Validate(); err != nil {
		return nil, false, err
	}
	return next, false, nil
}

// Modify computes the item at key from its current version (nil when
// absent) with fn and stores the result atomically: when another writer
// changed the item first, fn runs again on the newer version, so fn always
// decides on the version its result replaces. fn returns the new item, which
// must keep the key; returning the current item unchanged stores nothing, and
// an error stores nothing and is returned as it is (so a caller can refuse a
// change with its own error). fn may run several times and must not keep cur.
func (t *Table) Modify(ctx context.Context, key item.Key, fn func(cur item.Item) (item.Item, error)) (*WriteResult, error) {
	if t.batched {
		return nil, t.refuseBatched("a read-modify-write (Modify)")
	}
	kb := key.AppendOrdered(nil)
	return t.write(ctx, kb, opUpdateItem, false, WriteOptions{}, nil, func(cur item.Item) (item.Item, bool, error) {
		next, err := fn(cur)
		if err != nil {
			return nil, false, err
		}
		if next == nil {
			return nil, false, invalid("Modify: the new item is nil")
		}
		k, err := t.schema.KeyOf(next)
		if err != nil {
			return nil, false, err
		}
		if !bytes.Equal(k.AppendOrdered(nil), kb) {
			return nil, false, invalid("Modify: the new item has another key")
		}
		if err := next.Validate(); err != nil {
			return nil, false, err
		}
		return next, false, nil
	})
}

// Delete deletes the item with the given key; deleting a missing item
// stores nothing.
func (t *Table) Delete(ctx context.Context, key item.Key, opts WriteOptions) (*WriteResult, error) {
	if t.batched {
		return t.writeBatched(ctx, opDelete, key.AppendOrdered(nil), nil, opts)
	}
	return t.write(ctx, key.AppendOrdered(nil), opDeleteItem, false, opts, nil, func(cur item.Item) (item.Item, bool, error) {
		if err := checkCondition(opts.Condition, cur); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	})
}

func checkCondition(c *expr.Condition, cur item.Item) error {
	if c == nil {
		return nil
	}
	ok, err := c.Eval(cur)
	if err != nil {
		return err
	}
	if !ok {
		return &ConditionError{Item: cur}
	}
	return nil
}

// mutation computes the next item from the current one (nil when absent):
// the new item, or del to delete it, or an error to write nothing.
type mutation func(cur item.Item) (next item.Item, del bool, err error)

// writeOp names a kind of write in the writes metric.
type writeOp uint8

const (
	opPutItem writeOp = iota
	opUpdateItem
	opDeleteItem
	opTransact
	numWriteOps
)

var writeOpNames = [numWriteOps]string{"put", "update", "delete", "transact"}

// writeBufs holds the buffers writes encode items and messages in; a
// message's bytes are copied to the connection before PublishExpect
// returns.
var writeBufs = sync.Pool{New: func() any { return new(writeBuf) }}

type writeBuf struct{ item, msg []byte }

// deleted returns ErrNotFound once this handle's table is known to be
// deleted (by this process, or found missing by an Open): a write to its
// stream would only wait for an acknowledgement that never comes.
func (t *Table) deleted() error {
	if t.ix.gone.Load() {
		return fmt.Errorf("%w: table %q was deleted", ErrNotFound, t.name)
	}
	return nil
}

// write applies fn to the item at key atomically: it computes the new
// version from the one it read and stores it only if that is still the
// item's last version (the engine's per-subject optimistic concurrency).
// When another writer got there first, it reads the item again from the
// engine and recomputes, so a condition is always evaluated against the
// version the write replaces.
//
// blind says that fn does not read the current item (an unconditional
// put): it is then given nil and the current item is not decoded. Whether
// the write changes anything is then a comparison of binary forms, which
// are canonical (equal items encode to equal bytes).
//
// bin, when not nil, is the new item's binary form, given encoded (a put
// of [Table.PutEncoded]): fn then returns a nil item for it, and whether
// the write changes anything is a comparison of binary forms too.
func (t *Table) write(ctx context.Context, key []byte, op writeOp, blind bool, opts WriteOptions, bin []byte, fn mutation) (*WriteResult, error) {
	if opts.Unchecked && (opts.Condition != nil || op == opUpdateItem) {
		return nil, invalid("an unchecked write is a put or a delete without a condition")
	}
	start := time.Now()
	if err := t.deleted(); err != nil {
		return nil, err
	}
	if err := t.m.eng.CheckStorage(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > t.m.cfg.WriteTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.m.cfg.WriteTimeout)
		defer cancel()
	}
	if err := t.ix.waitFor(ctx, t.keyWrite(key)); err != nil {
		return nil, err
	}
	subj := t.subject(key)
	e := t.ix.get(string(key))
	wb := writeBufs.Get().(*writeBuf)
	defer writeBufs.Put(wb)
	for attempt := 0; ; attempt++ {
		if e != nil && e.lock != nil {
			var err error
			if e, err = t.m.resolveLock(ctx, t, subj, e); err != nil {
				return nil, err
			}
			continue
		}
		var cur item.Item
		var stored []byte // the binary current item; nil when absent
		var tip uint64
		if e != nil {
			tip, stored = e.seq, e.item
			if !blind {
				var err error
				if cur, err = decodeItem(stored); err != nil {
					return nil, err
				}
			}
		}
		next, del, err := fn(cur)
		if err != nil {
			if errors.Is(err, ErrConditionFailed) {
				t.condFailures.Inc()
			}
			return nil, err
		}
		res := &WriteResult{New: next, old: cur, oldBin: stored}
		var nb []byte // the new item's binary form
		if del {
			res.New = nil
			if stored == nil {
				return res, nil
			}
		} else {
			nb = bin
			if nb == nil {
				if cur != nil && cur.Equal(next) {
					return res, nil
				}
				wb.item, _ = next.AppendBinary(wb.item[:0])
				nb = wb.item
			}
			if (cur == nil || bin != nil) && stored != nil && bytes.Equal(nb, stored) {
				return res, nil
			}
		}
		v := version{op: opPut, time: time.Now().UnixNano(), key: key, item: nb}
		if stored != nil {
			v.flags |= flagExisted
			if t.view.needsOld() {
				v.flags |= flagOld
				v.old = stored
			}
		}
		if del {
			v.op = opDelete
			if opts.expired {
				v.flags |= flagExpired
			}
		}
		wb.msg = appendVersion(wb.msg[:0], &v)
		var seq uint64
		expect := tip
		if opts.Unchecked {
			expect = engine.AnySeq
		}
		if opts.NoSync {
			seq, err = engine.PublishExpect(ctx, t.m.nc, subj, wb.msg, expect)
		} else {
			seq, err = t.m.eng.PublishExpect(ctx, t.m.nc, subj, wb.msg, expect)
		}
		if err == nil {
			t.noteKeyWrite(key, seq)
			res.Written, res.Seq = true, seq
			t.writes[op].Inc()
			t.writeTime.Observe(time.Since(start).Seconds())
			return res, nil
		}
		if !isWrongLastSeq(err) {
			err = classify(t.m.nc, err)
			if errors.Is(err, ErrNotFound) {
				t.m.forget(t)
			}
			return nil, fmt.Errorf("table %q: write: %w", t.name, err)
		}
		t.conflicts.Inc()
		if attempt > 0 {
			// Back off with jitter so that writers of one hot item do not
			// keep colliding.
			d := time.Duration(rand.Int64N(int64(min(attempt, 20)) * int64(100*time.Microsecond)))
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: table %q: %d attempts: %v", ErrConflict, t.name, attempt+1, ctx.Err())
			}
		}
		if e, err = t.readTip(ctx, subj); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: table %q: %d attempts: %v", ErrConflict, t.name, attempt+1, ctx.Err())
			}
			return nil, err
		}
	}
}

// Query options and results.

// QueryInput is a Query: the items of one partition key, in sort key order.
type QueryInput struct {
	// KeyCondition selects the partition and the sort key range.
	KeyCondition *expr.KeyCondition
	// Filter drops items after they are read (they still count as scanned).
	Filter *expr.Condition
	// Projection selects the attributes to return.
	Projection *expr.Projection
	// Limit is the most items to read (before the filter); 0 for no limit
	// but the page size.
	Limit int
	// ExclusiveStartKey continues after that key (a previous page's
	// LastEvaluatedKey).
	ExclusiveStartKey *item.Key
	// Backward reads in descending sort key order (ScanIndexForward false).
	Backward bool
	// Consistent waits until the index has applied every write stored
	// before the query.
	Consistent bool
}

// ScanInput is a Scan: every item, in key order.
type ScanInput struct {
	Filter            *expr.Condition
	Projection        *expr.Projection
	Limit             int
	ExclusiveStartKey *item.Key
	// Segment and TotalSegments split a scan for parallel readers: segment
	// i of n reads the items whose partition key hashes to i.
	Segment, TotalSegments int
	Consistent             bool
}

// Page is one page of a Query or Scan.
type Page struct {
	Items []item.Item
	// ScannedCount is the items read before the filter.
	ScannedCount int
	// LastEvaluatedKey is where the next page starts; nil when the read
	// reached the end.
	LastEvaluatedKey *item.Key
}

func (t *Table) syncRead(ctx context.Context, consistent bool) error {
	target := t.lastWrite.Load()
	if consistent {
		s, err := t.m.js.Stream(ctx, t.jsName)
		if err != nil {
			return fmt.Errorf("table %q: %w", t.name, classify(t.m.nc, err))
		}
		target = max(target, s.CachedInfo().State.LastSeq)
	}
	return t.ix.waitFor(ctx, target)
}

// Query reads the items of one partition key.
func (t *Table) Query(ctx context.Context, in QueryInput) (*Page, error) {
	if in.KeyCondition == nil {
		return nil, invalid("query: no key condition")
	}
	if in.Limit < 0 {
		return nil, invalid("limit: must be > 0")
	}
	if err := t.syncRead(ctx, in.Consistent); err != nil {
		return nil, err
	}
	lo, hi := in.KeyCondition.Bounds()
	from, to := string(lo), string(hi)
	if in.ExclusiveStartKey != nil {
		sk := string(in.ExclusiveStartKey.AppendOrdered(nil))
		if !in.Backward {
			from = max(from, sk+"\x00")
		} else if to == "" || sk < to {
			to = sk
		}
	}
	return t.collect(ctx, from, to, in.Backward, in.Limit, nil, in.Filter, in.Projection)
}

// Scan reads every item of the table (or of one segment).
func (t *Table) Scan(ctx context.Context, in ScanInput) (*Page, error) {
	if in.Limit < 0 {
		return nil, invalid("limit: must be > 0")
	}
	var keep func(*entry) bool
	if in.TotalSegments > 0 || in.Segment > 0 {
		if in.TotalSegments < 1 || in.TotalSegments > 1_000_000 || in.Segment < 0 || in.Segment >= in.TotalSegments {
			return nil, invalid("segment %d of %d: want 0 <= segment < total segments <= 1000000", in.Segment, in.TotalSegments)
		}
		keep = func(e *entry) bool { return t.segmentOf(e.key, in.TotalSegments) == in.Segment }
	}
	if err := t.syncRead(ctx, in.Consistent); err != nil {
		return nil, err
	}
	from := ""
	if in.ExclusiveStartKey != nil {
		from = string(in.ExclusiveStartKey.AppendOrdered(nil)) + "\x00"
	}
	return t.collect(ctx, from, "", false, in.Limit, keep, in.Filter, in.Projection)
}

// segmentOf hashes an entry's partition key to one of n segments.
func (t *Table) segmentOf(key string, n int) int {
	k, err := t.schema.DecodeKey([]byte(key))
	if err != nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(item.AppendOrdered(nil, k.Partition))
	return int(h.Sum64() % uint64(n))
}

func (t *Table) collect(ctx context.Context, from, to string, backward bool, limit int, keep func(*entry) bool, filter *expr.Condition, proj *expr.Projection) (*Page, error) {
	var ents []*entry
	bytes := 0
	full := false
	visit := func(e *entry) bool {
		if e.item == nil && e.lock == nil {
			return true // a tombstone
		}
		if keep != nil && !keep(e) {
			return true
		}
		ents = append(ents, e)
		bytes += len(e.item) + 64
		if (limit > 0 && len(ents) >= limit) || bytes >= MaxPageBytes {
			full = true
			return false
		}
		return true
	}
	if backward {
		t.ix.descend(from, to, visit)
	} else {
		t.ix.ascend(from, to, visit)
	}
	page := &Page{Items: make([]item.Item, 0, len(ents))}
	for _, e := range ents {
		b, err := t.visible(ctx, e)
		if err != nil {
			return nil, err
		}
		it, err := decodeItem(b)
		if err != nil {
			return nil, err
		}
		if it == nil {
			continue
		}
		page.ScannedCount++
		if filter != nil {
			ok, err := filter.Eval(it)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		if proj != nil {
			it = proj.Apply(it)
		}
		page.Items = append(page.Items, it)
	}
	if full && len(ents) > 0 {
		k, err := t.schema.DecodeKey([]byte(ents[len(ents)-1].key))
		if err != nil {
			return nil, fmt.Errorf("table %q: stored key: %w", t.name, err)
		}
		page.LastEvaluatedKey = &k
	}
	return page, nil
}

// BatchGet returns the items with the given keys that exist, in the order
// of the keys (at most MaxBatchGet keys, no key twice).
func (t *Table) BatchGet(ctx context.Context, keys []item.Key, opts GetOptions) ([]item.Item, error) {
	if len(keys) == 0 || len(keys) > MaxBatchGet {
		return nil, invalid("a batch get holds 1-%d keys, got %d", MaxBatchGet, len(keys))
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		kb := string(k.AppendOrdered(nil))
		if seen[kb] {
			return nil, invalid("Provided list of item keys contains duplicates")
		}
		seen[kb] = true
	}
	out := make([]item.Item, 0, len(keys))
	for _, k := range keys {
		it, err := t.Get(ctx, k, opts)
		if err != nil {
			return nil, err
		}
		if it != nil {
			out = append(out, it)
		}
	}
	return out, nil
}

// WriteRequest is one put or delete of a batch write.
type WriteRequest struct {
	// Put is the item to put, or nil for a delete.
	Put item.Item
	// Delete is the key to delete when Put is nil.
	Delete item.Key
}

// BatchWrite applies puts and deletes (at most MaxBatchWrite, no key
// twice) without conditions. It is not atomic: it stops at the first
// failure, returning how many requests were applied. The requests are
// stored one after another without waiting for a sync each, and made
// durable together by one sync of the table before BatchWrite returns
// (under the engine's fsync-always policy a batch of 25 waited for 25
// syncs in turn), so that what it reports applied is durable; when that
// sync fails it reports none applied, and writing the batch again is
// safe. (Writing the requests at once instead, a goroutine each, loaded a
// catalog a little faster but lengthened the tail of everything else the
// engine served meanwhile.)
func (t *Table) BatchWrite(ctx context.Context, reqs []WriteRequest) (int, error) {
	if len(reqs) == 0 || len(reqs) > MaxBatchWrite {
		return 0, invalid("a batch write holds 1-%d requests, got %d", MaxBatchWrite, len(reqs))
	}
	seen := make(map[string]bool, len(reqs))
	for i, r := range reqs {
		var k item.Key
		var err error
		if r.Put != nil {
			if k, err = t.schema.KeyOf(r.Put); err != nil {
				return 0, err
			}
			if err := r.Put.Validate(); err != nil {
				return 0, err
			}
		} else {
			k = r.Delete
			if !k.Partition.IsValid() {
				return 0, invalid("request %d: neither a put nor a delete", i)
			}
		}
		kb := string(k.AppendOrdered(nil))
		if seen[kb] {
			return 0, invalid("Provided list of item keys contains duplicates")
		}
		seen[kb] = true
	}
	if t.batched {
		return t.batchWriteBatched(ctx, reqs)
	}
	applied := 0
	var werr error
	for _, r := range reqs {
		if r.Put != nil {
			_, werr = t.Put(ctx, r.Put, WriteOptions{NoSync: true})
		} else {
			_, werr = t.Delete(ctx, r.Delete, WriteOptions{NoSync: true})
		}
		if werr != nil {
			break
		}
		applied++
	}
	return t.syncApplied(ctx, applied, werr)
}

// syncApplied makes a batch write's applied requests durable and returns
// what BatchWrite returns: none applied when the sync fails.
func (t *Table) syncApplied(ctx context.Context, applied int, werr error) (int, error) {
	if applied > 0 {
		if err := t.Sync(ctx); err != nil {
			return 0, err
		}
	}
	return applied, werr
}
