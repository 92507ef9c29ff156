package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricestream/pricestream/internal/engine"
)

// A table of batched writes ([WritesBatched]) stores its writes in batch
// messages (message_batch.go) on its one batch subject. The table's
// batcher keeps one batch in flight: writes that come meanwhile queue,
// and the next batch takes them all (group commit), as a stream
// partition's writer does. Each batch is published expecting the
// subject's last message to be the last one the index has applied, and
// is built once the index has applied it: so the flags of its entries
// (INSERT or MODIFY, the old image) and whether a put changes anything
// are decided against the versions the batch replaces, and positions
// are handed out without gaps or overlaps even when another process
// writes the table too (its batch makes ours conflict; ours is built
// again after it).

// batchSubjectToken is the subject token of a batched table's messages
// (not a key token, which starts with 'k' or 'h').
const batchSubjectToken = "b"

// maxBatchBytes bounds the encoded entries of one batch message, below
// the engine's default largest message (1 MB).
const maxBatchBytes = 768 << 10

// batchWrite is a write waiting in the batcher.
type batchWrite struct {
	op   byte   // opPut, opDelete or opRestore
	key  []byte // ordered key bytes
	item []byte // binary item (opPut, opRestore)
	of   uint64 // opRestore: position of the version it restores
	// done is called once with the write's position (0 when it stored
	// nothing: the item was already so, or a restore was no longer
	// needed), the binary item it replaced (nil when absent) and
	// whether it stored anything, or an error. It runs on the batcher's
	// goroutine of the moment and must not block.
	done  func(pos uint64, old []byte, err error)
	start time.Time
}

// batcher is a batched table's writer.
type batcher struct {
	t  *Table
	mu struct {
		sync.Mutex
		queue    []*batchWrite
		inflight bool
	}
	// Owned by the batch in flight, handed from one to the next through
	// mu.inflight.
	prev  uint64 // engine sequence of the last batch this process stored
	taken []*batchWrite
	wrote []*batchWrite // the entries of the batch in flight, in order
	olds  [][]byte      // the items they replace
	seen  map[string][]byte
	buf   []byte
}

// add queues w, and starts a batch when none is in flight.
func (b *batcher) add(w *batchWrite) { b.addAll([]*batchWrite{w}) }

// addAll queues ws together (so that they are stored in one batch when
// none is in flight and they fit), and starts a batch when none is in
// flight.
func (b *batcher) addAll(ws []*batchWrite) {
	b.mu.Lock()
	b.mu.queue = append(b.mu.queue, ws...)
	if b.mu.inflight {
		b.mu.Unlock()
		return
	}
	b.mu.inflight = true
	b.mu.Unlock()
	b.next()
}

// next takes what is queued as the next batch and stores it, or clears
// inflight when nothing is.
func (b *batcher) next() {
	b.mu.Lock()
	if len(b.mu.queue) == 0 {
		b.mu.inflight = false
		b.mu.Unlock()
		return
	}
	b.take()
	b.mu.Unlock()
	b.build()
}

// take moves up to maxBatchEntries queued writes to b.taken (the rest
// stay queued); b.mu is held.
func (b *batcher) take() {
	q := b.mu.queue
	n := min(len(q), maxBatchEntries)
	b.taken = append(b.taken[:0], q[:n]...)
	rest := copy(q, q[n:])
	clear(q[rest:])
	b.mu.queue = q[:rest]
}

// build waits for the index to hold this process's last batch, then
// encodes and publishes b.taken.
func (b *batcher) build() {
	ix := b.t.ix
	if ix.whenApplied(b.prev, func(err error) {
		if err != nil {
			b.fail(b.taken, err)
			b.next()
			return
		}
		b.publish()
	}) {
		return
	}
	b.publish()
}

// fail ends ws with err.
func (b *batcher) fail(ws []*batchWrite, err error) {
	for _, w := range ws {
		w.done(0, nil, err)
	}
	clear(ws)
}

// publish encodes b.taken against the index and publishes it.
func (b *batcher) publish() {
	t := b.t
	ix := t.ix
	if err := t.deleted(); err != nil {
		b.fail(b.taken, err)
		b.next()
		return
	}
	p, err := t.m.asyncPublisher()
	if err != nil {
		b.fail(b.taken, err)
		b.next()
		return
	}
	// The index's last applied message, then its last position:
	// applyBatch stores the position first, so a batch applied in
	// between leaves expect behind the stream, and the publish conflicts
	// rather than reuse that batch's positions.
	expect := ix.applied.Load()
	first := ix.lastPos.Load() + 1
	if b.seen == nil {
		b.seen = make(map[string][]byte)
	}
	clear(b.seen)
	b.wrote, b.olds = b.wrote[:0], b.olds[:0]
	now := time.Now().UnixNano()
	body := b.buf[:0]
	size := 0
	var skipped []*batchWrite
	ix.mu.RLock()
	for i, w := range b.taken {
		// cur: the item as the batch so far leaves it (nil: absent);
		// for a restore, the version it copies while still current.
		cur, had := b.seen[string(w.key)]
		switch {
		case had && w.op == opRestore:
			cur = nil // written in this batch: nothing to restore
		case !had:
			if e := ix.mu.keys[string(w.key)]; e != nil && (w.op != opRestore || e.seq == w.of) {
				cur = e.item
			}
		}
		e := batchEntry{op: w.op, time: now, key: w.key, item: w.item, of: w.of}
		switch w.op {
		case opPut:
			if cur != nil && bytes.Equal(cur, w.item) {
				skipped = append(skipped, w)
				continue
			}
		case opDelete:
			if cur == nil {
				skipped = append(skipped, w)
				continue
			}
		case opRestore:
			if cur == nil {
				skipped = append(skipped, w)
				continue
			}
		}
		if size > 0 && size+batchEntrySize(&e) > maxBatchBytes {
			// Too much for one message: the rest goes in the next batch.
			b.requeue(b.taken[i:])
			break
		}
		if w.op != opRestore && cur != nil {
			e.flags |= flagExisted
			if t.view.needsOld() {
				e.flags |= flagOld
				e.old = cur
			}
		}
		if w.op == opDelete {
			e.item = nil
		}
		size += batchEntrySize(&e)
		body = appendBatchEntry(body, &e)
		b.seen[string(w.key)] = e.item // a restore's is the item it keeps
		b.wrote = append(b.wrote, w)
		b.olds = append(b.olds, cur)
	}
	ix.mu.RUnlock()
	b.buf = body
	clear(b.taken)
	b.taken = b.taken[:0]
	for _, w := range skipped {
		w.done(0, nil, nil)
	}
	if len(b.wrote) == 0 {
		b.next()
		return
	}
	// The message is the index's once acknowledged (applyBatch keeps
	// copies of the items, not the message, but a subscription may hold
	// it): not a reused buffer.
	msg := appendBatchHeader(make([]byte, 0, batchHeaderMax+len(body)), first, len(b.wrote))
	msg = append(msg, body...)
	err = p.Publish(t.prefix+batchSubjectToken, msg, expect, func(seq uint64, err error) {
		b.stored(seq, msg, first, err)
	})
	if err != nil {
		b.failWrote(fmt.Errorf("table %q: write: %w", t.name, classify(t.m.nc, err)))
		b.next()
	}
}

// requeue puts ws back at the head of the queue.
func (b *batcher) requeue(ws []*batchWrite) {
	b.mu.Lock()
	b.mu.queue = append(append(make([]*batchWrite, 0, len(ws)+len(b.mu.queue)), ws...), b.mu.queue...)
	b.mu.Unlock()
}

// failWrote ends the writes of the batch that was to be stored with err.
func (b *batcher) failWrote(err error) {
	b.fail(b.wrote, err)
	clear(b.olds)
	b.wrote, b.olds = b.wrote[:0], b.olds[:0]
}

// stored completes the batch in flight: on success it applies it to the
// index and completes its writes; on a conflict (another process stored
// a batch first) it builds it again once the index holds that batch.
func (b *batcher) stored(seq uint64, msg []byte, first uint64, err error) {
	t := b.t
	if err != nil {
		if engine.IsWrongLastSeq(err) {
			t.conflicts.Inc()
			ws := append([]*batchWrite(nil), b.wrote...)
			clear(b.olds)
			b.wrote, b.olds = b.wrote[:0], b.olds[:0]
			b.requeue(ws)
			t.m.goRun(b.catchUp, func() {
				b.mu.Lock()
				ws := b.mu.queue
				b.mu.queue = nil
				b.mu.Unlock()
				b.fail(ws, ErrClosed)
				b.next()
			})
			return
		}
		b.failWrote(fmt.Errorf("table %q: write: %w", t.name, classify(t.m.nc, err)))
		b.next()
		return
	}
	b.prev = seq
	t.noteWrite(seq)
	t.ix.applyOwn(seq, msg)
	for i, w := range b.wrote {
		op := opPutItem
		if w.op == opDelete {
			op = opDeleteItem
		}
		if w.op != opRestore {
			t.writes[op].Inc()
			t.writeTime.Observe(time.Since(w.start).Seconds())
		}
		w.done(first+uint64(i), b.olds[i], nil)
	}
	clear(b.olds)
	b.wrote, b.olds = b.wrote[:0], b.olds[:0]
	b.next()
}

// catchUp takes the next batch once the index has applied the stream's
// last message, after a conflict. It runs on a goroutine of its own (it
// asks the engine for that message's sequence and waits for the answer).
func (b *batcher) catchUp() {
	t := b.t
	ctx, cancel := context.WithTimeout(t.m.ctx, t.m.cfg.WriteTimeout)
	defer cancel()
	// The stream's last sequence, from the leader: a blocking request, on
	// the goroutine that handed on the conflict, which is rare.
	seq, _, err := msgGetLast(ctx, t.m.nc, t.jsName, t.prefix+batchSubjectToken)
	if err != nil && !errors.Is(err, errNoMessage) {
		b.mu.Lock()
		ws := b.mu.queue
		b.mu.queue = nil
		b.mu.Unlock()
		b.fail(ws, fmt.Errorf("table %q: write: %w", t.name, classify(t.m.nc, err)))
		b.next()
		return
	}
	b.prev = max(b.prev, seq)
	b.mu.Lock()
	b.take() // the requeued batch at least
	b.mu.Unlock()
	b.build()
}

// batchResult is a synchronous batched write's outcome.
type batchResult struct {
	pos uint64
	old []byte
	err error
}

// writeBatched stores a put (item, or its binary form bin) or a delete
// of key through the batcher and waits for it, then for its sync unless
// opts.NoSync.
func (t *Table) writeBatched(ctx context.Context, op byte, key []byte, bin []byte, opts WriteOptions) (*WriteResult, error) {
	if opts.Condition != nil {
		return nil, t.refuseBatched("a condition")
	}
	if err := t.deleted(); err != nil {
		return nil, err
	}
	if err := t.m.eng.CheckStorage(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ch := make(chan batchResult, 1)
	t.bat.add(&batchWrite{op: op, key: key, item: bin, start: time.Now(), done: func(pos uint64, old []byte, err error) {
		ch <- batchResult{pos, old, err}
	}})
	var r batchResult
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: table %q: write: %v", ErrUnavailable, t.name, ctx.Err())
	}
	if r.err != nil {
		return nil, r.err
	}
	res := &WriteResult{Written: r.pos != 0, Seq: r.pos, oldBin: r.old}
	if res.Written && !opts.NoSync {
		if err := t.Sync(ctx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// putBatchedAsync is PutEncodedAsync on a table of batched writes.
func (t *Table) putBatchedAsync(key, data []byte, done func(seq uint64, err error)) {
	t.bat.add(&batchWrite{op: opPut, key: key, item: data, start: time.Now(), done: func(pos uint64, _ []byte, err error) {
		done(pos, err)
	}})
}

// refuseBatched is the error of a write a table of batched writes does
// not take.
func (t *Table) refuseBatched(what string) error {
	return invalid("table %q takes batched writes (writes: batched): %s is not supported; only unconditional puts and deletes are", t.name, what)
}

// batchMark is a batch's engine sequence, first position and write time.
type batchMark struct {
	seq, pos uint64
	time     int64
}

// applyBatch applies a batch message of a table of batched writes, as
// apply does an item version: ix.amu is held, or the index is not ready.
// Its entries' items are copied: an index entry that kept the message
// would keep every other entry of it in memory too.
func (ix *index) applyBatch(seq uint64, data []byte) {
	first, n, err := batchExtent(data)
	if err != nil {
		ix.t.m.logger.Error("table index: corrupt batch message skipped", "table", ix.t.name, "seq", seq, "err", err)
		ix.advance(seq)
		ix.feed.publish(seq, data, true) // a subscription reports it, as its engine consumer would
		return
	}
	br, _ := readBatch(data)
	change := false
	var last int64
	var e batchEntry
	ix.mu.Lock()
	for br.entry(&e) {
		last = max(last, e.time)
		key := string(e.key)
		if e.op == opRestore {
			// A restore stands for the version it copies, which it
			// replaces in the index only while that is current (or
			// gone from the engine, when the index is rebuilt).
			if cur := ix.mu.keys[key]; cur != nil && cur.seq != e.of {
				continue
			}
		} else {
			change = true
		}
		ne := &entry{key: key, seq: e.pos, time: e.time, item: clone(e.item)}
		prev, had := ix.put(ne)
		ix.count(prev, had, ne)
	}
	if br.failed() {
		change = true // a subscription reports it
		ix.t.m.logger.Error("table index: corrupt entry in a batch message; the rest of it skipped", "table", ix.t.name, "seq", seq, "position", br.next)
	}
	ix.mu.last.seq, ix.mu.last.time = seq, last
	if k := len(ix.marks); k == 0 || last >= ix.marks[k-1].time+int64(time.Second) {
		ix.marks = append(ix.marks, batchMark{seq: seq, pos: first, time: last})
	}
	ix.lastPos.Store(first + n - 1) // with the tree (snapshot), before applied (batcher.publish)
	ix.mu.Unlock()
	due := ix.advanceNoWaits(seq)
	ix.feed.publish(seq, data, change)
	runWaits(due)
	if ix.loadTime != 0 && last != 0 {
		ix.t.m.metrics.indexDelay.Observe(max(0, float64(time.Now().UnixNano()-last)/1e9))
	}
}

// batchWriteBatched is BatchWrite on a table of batched writes: its
// requests are queued together, so that they are stored in one batch
// when none is in flight, and made durable by one sync.
func (t *Table) batchWriteBatched(ctx context.Context, reqs []WriteRequest) (int, error) {
	if err := t.deleted(); err != nil {
		return 0, err
	}
	if err := t.m.eng.CheckStorage(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ws := make([]*batchWrite, len(reqs))
	results := make([]batchResult, len(reqs))
	var left atomic.Int64
	left.Store(int64(len(reqs)))
	wait := make(chan struct{}) // closed by the last write's done
	start := time.Now()
	for i, r := range reqs {
		w := &batchWrite{op: opDelete, start: start}
		if r.Put != nil {
			k, _ := t.schema.KeyOf(r.Put) // checked by BatchWrite
			w.op, w.key = opPut, k.AppendOrdered(nil)
			var err error
			if w.item, err = r.Put.AppendBinary(nil); err != nil {
				return 0, err
			}
		} else {
			w.key = r.Delete.AppendOrdered(nil)
		}
		w.done = func(pos uint64, _ []byte, err error) {
			results[i] = batchResult{pos: pos, err: err}
			if left.Add(-1) == 0 {
				close(wait)
			}
		}
		ws[i] = w
	}
	t.bat.addAll(ws)
	select {
	case <-wait:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: table %q: write: %v", ErrUnavailable, t.name, ctx.Err())
	}
	applied := 0
	var werr error
	for _, r := range results {
		if r.err != nil {
			werr = r.err
			break
		}
		applied++
	}
	return t.syncApplied(ctx, applied, werr)
}
