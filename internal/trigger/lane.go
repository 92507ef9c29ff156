package trigger

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A partition's records flow from its reader through a dispatcher into
// Parallelism lanes: the dispatcher routes each record by a hash of its
// key to a lane's bounded queue, and each lane builds its own batches and
// invokes the function without waiting for the other lanes, as Lambda's
// ParallelizationFactor runs concurrent batches of one shard. A window
// tracks in read order which records are done, so that the checkpoint
// (its low-water mark) never passes a record that is not.

// laneRec is a record on its way through a lane, with its place in the
// order the partition's records were read.
type laneRec struct {
	rec *Record
	n   uint64
}

// keyHash is the 32-bit FNV-1a hash of a record's key, which picks its
// lane: records of one key go to one lane, in order.
func keyHash(key string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return h
}

// windowRecords is how many records a partition keeps between its
// checkpoint and its reader: read, and not all of them done. When one
// lane is stuck (a slow invocation, retries), the others go on until the
// window is full; then the reader waits. It also bounds what a crash
// delivers again beyond the records the stuck lane had not done.
func windowRecords(spec *Spec) int {
	return max(4096, 2*spec.BatchSize*max(1, spec.Parallelism))
}

// window tracks the records read from a partition, in read order, with a
// done flag each, in a ring. Its low-water mark is the oldest record not
// yet done; every record before it is done, so the checkpoint may name
// the one just before it. The dispatcher adds records at the head; lanes
// mark them done in any order.
type window struct {
	max   int           // most records between the low-water mark and the head
	space chan struct{} // capacity 1: the low-water mark moved

	mu struct {
		sync.Mutex
		slots     []windowSlot // ring; its length is a power of two
		low, high uint64       // records [low, high) are in the ring; low is not done
	}
}

type windowSlot struct {
	rec  *Record
	done bool
}

func newWindow(max int) *window {
	w := &window{max: max, space: make(chan struct{}, 1)}
	w.mu.slots = make([]windowSlot, min(256, 1<<bitsFor(max)))
	return w
}

// bitsFor returns the least b with 1<<b >= n.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// add puts up to len(recs) records at the head, as many as the window has
// room for, and returns the read-order number of the first and how many it
// took (0 when the window is full: wait, then add again).
func (w *window) add(recs []Record) (first uint64, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	used := int(w.mu.high - w.mu.low)
	n = min(len(recs), w.max-used)
	if n <= 0 {
		return w.mu.high, 0
	}
	if used+n > len(w.mu.slots) {
		w.grow(used + n)
	}
	first = w.mu.high
	mask := uint64(len(w.mu.slots) - 1)
	for i := range n {
		w.mu.slots[(first+uint64(i))&mask] = windowSlot{rec: &recs[i]}
	}
	w.mu.high += uint64(n)
	return first, n
}

// grow makes the ring hold at least n records; w.mu is held.
func (w *window) grow(n int) {
	slots := make([]windowSlot, 1<<bitsFor(n))
	old, oldMask := w.mu.slots, uint64(len(w.mu.slots)-1)
	mask := uint64(len(slots) - 1)
	for i := w.mu.low; i < w.mu.high; i++ {
		slots[i&mask] = old[i&oldMask]
	}
	w.mu.slots = slots
}

// wait blocks until the window has room or ctx is done.
func (w *window) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		full := int(w.mu.high-w.mu.low) >= w.max
		w.mu.Unlock()
		if !full {
			return nil
		}
		select {
		case <-w.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// doneLocked marks the records numbered ns done, moves the low-water mark
// past every done record at its front, and returns the last record it
// passed (nil when it did not move). w.mu is held.
func (w *window) doneLocked(ns []uint64) *Record {
	mask := uint64(len(w.mu.slots) - 1)
	for _, n := range ns {
		w.mu.slots[n&mask].done = true
	}
	var last *Record
	for w.mu.low < w.mu.high {
		s := &w.mu.slots[w.mu.low&mask]
		if !s.done {
			break
		}
		last = s.rec
		*s = windowSlot{} // the record's chunk can go
		w.mu.low++
	}
	if last != nil {
		select {
		case w.space <- struct{}{}:
		default:
		}
	}
	return last
}

// finish records that a lane is done with the records numbered ns
// (processed, filtered or failed) and, when that moves the low-water
// mark, makes the record just before it the partition's checkpoint.
// Lanes call it concurrently; the checkpoint is set under the window's
// lock, so a newer one is never overwritten by an older one.
func (r *runner) finish(w *window, ns []uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.status.done.Add(int64(len(ns)))
	last := w.doneLocked(ns)
	if last == nil {
		return
	}
	cp := Checkpoint{Source: r.spec.Source, Generation: r.gen, SequenceNumber: last.SequenceNumber, SourceCreated: r.srcCreated, Offset: last.Offset, Arrival: last.Arrival}
	r.done = &cp
	r.status.checkpoint.Store(&cp)
	r.commit.set(cp)
}

// dispatch reads the partition (from just after cp, when not nil) and
// routes each record to its lane's queue until ctx is done or the reader
// fails. It blocks while a lane's queue is
// full or the window is. It does not close the queues: its caller does.
func (r *runner) dispatch(ctx context.Context, rd PartitionReader, cp *Checkpoint, w *window, lanes []chan []laneRec) error {
	_, dense := r.src.(denseOffsets)
	var expect uint64
	started := cp != nil
	readAfter := ""
	if started {
		expect = cp.Offset + 1
		readAfter = cp.SequenceNumber
	}
	parts := make([][]laneRec, len(lanes))
	for {
		recs, err := rd.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read partition %d: %w", r.part, err)
		}
		if len(recs) == 0 {
			continue
		}
		r.status.read.Add(int64(len(recs)))
		for i := range recs {
			recs[i].ReadAfter = readAfter
		}
		if first := &recs[0]; dense && first.Offset > expect && (started || expect > 0) {
			// The source no longer holds records between the checkpoint
			// and this one (retention removed them before they were
			// delivered). Say so: nothing is skipped silently.
			r.logger.Warn("records expired from the source before the trigger delivered them", "records", first.Offset-expect, "before_seq", first.SequenceNumber)
		}
		expect = recs[len(recs)-1].Offset + 1
		for len(recs) > 0 {
			first, n := w.add(recs)
			if n == 0 {
				if err := w.wait(ctx); err != nil {
					return err
				}
				continue
			}
			for i := range n {
				l := 0
				if len(lanes) > 1 {
					l = int(keyHash(recs[i].Key) % uint32(len(lanes)))
				}
				parts[l] = append(parts[l], laneRec{rec: &recs[i], n: first + uint64(i)})
			}
			recs = recs[n:]
			if err := route(ctx, lanes, parts); err != nil {
				return err
			}
		}
	}
}

// route hands each lane its part (the lane owns it then): first to the
// lanes with room, so that a full lane does not hold back the others, then
// waiting for the full ones.
func route(ctx context.Context, lanes []chan []laneRec, parts [][]laneRec) error {
	full := false
	for i, p := range parts {
		if len(p) == 0 {
			continue
		}
		select {
		case lanes[i] <- p:
			parts[i] = nil
		default:
			full = true
		}
	}
	if !full {
		return nil
	}
	for i, p := range parts {
		if len(p) == 0 {
			continue
		}
		select {
		case lanes[i] <- p:
			parts[i] = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// lane delivers the records of its queue in order, a batch at a time,
// until the queue is closed and empty or ctx is done. A batch whose
// invocation returned a completion ([Response.Complete]) goes to the
// lane's completer, which calls the completions in order and counts each
// batch done when its completion returns, while the lane invokes the next
// batches: up to maxHeld of them wait to complete before the lane waits
// too. A completion that fails stops the lane; the batches not complete
// are delivered again after the runner reopens the partition.
func (r *runner) lane(ctx context.Context, q <-chan []laneRec, w *window) error {
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	held := make(chan heldBatch, maxHeld)
	var failed error // set by the completer before it stops the lane
	done := make(chan struct{})
	go func() {
		defer close(done)
		for h := range held {
			if failed != nil {
				continue // not done: delivered again
			}
			if err := r.awaitComplete(ctx, h.complete); err != nil {
				if ctx.Err() == nil {
					r.tm.errors.Inc()
					r.status.errors.Add(1)
				}
				failed = err
				stop()
				continue
			}
			r.finish(w, h.ns)
		}
	}()
	err := r.invokeLane(lctx, q, w, held)
	close(held)
	<-done
	if failed != nil && ctx.Err() == nil {
		return failed
	}
	return err
}

// maxHeld is how many of a lane's batches may wait for their completions
// while it invokes the next.
const maxHeld = 8

// heldBatch is a batch invoked whose completion has not returned yet.
type heldBatch struct {
	complete func(context.Context) error
	ns       []uint64 // its records' read-order numbers
}

// invokeLane is the lane's loop of batches; completions go to held.
func (r *runner) invokeLane(ctx context.Context, q <-chan []laneRec, w *window, held chan<- heldBatch) error {
	var pending []laneRec
	var ns []uint64
	for {
		var batch []*Record
		batch, ns = r.collect(ctx, q, &pending, ns[:0])
		if len(batch) == 0 {
			return nil
		}
		complete, err := r.process(ctx, batch)
		if err != nil {
			// ctx is done, the function asked for the records to be read
			// again, or a completion failed: the batch is not done, and is
			// delivered again after a restart.
			return err
		}
		if complete == nil {
			r.finish(w, ns) // batches held before it still hold the checkpoint
			continue
		}
		select {
		case held <- heldBatch{complete: complete, ns: ns}:
		case <-ctx.Done():
			return ctx.Err()
		}
		ns = nil // held's now
	}
}

// collect returns a lane's next batch and the records' read-order
// numbers: at least one record and at most BatchSize, gathered for up to
// BatchingWindow from the first (without waiting when the window is 0).
// It returns no records when the queue is closed and drained, or ctx is
// done.
func (r *runner) collect(ctx context.Context, q <-chan []laneRec, pending *[]laneRec, ns []uint64) ([]*Record, []uint64) {
	limit := r.spec.BatchSize
	batch := make([]*Record, 0, min(limit, 256))
	take := func() {
		p := *pending
		k := min(len(p), limit-len(batch))
		for _, lr := range p[:k] {
			batch = append(batch, lr.rec)
			ns = append(ns, lr.n)
		}
		*pending = p[k:]
	}
	take()
	if len(batch) == 0 {
		select {
		case c, ok := <-q:
			if !ok {
				return nil, ns
			}
			*pending = c
			take()
		case <-ctx.Done():
			return nil, ns
		}
	}
	window := r.spec.BatchingWindow.D()
	if window <= 0 {
		for len(batch) < limit {
			select {
			case c, ok := <-q:
				if !ok {
					return batch, ns
				}
				*pending = c
				take()
			default:
				return batch, ns
			}
		}
		return batch, ns
	}
	if len(batch) == limit {
		return batch, ns
	}
	t := time.NewTimer(window)
	defer t.Stop()
	for len(batch) < limit {
		select {
		case c, ok := <-q:
			if !ok {
				return batch, ns
			}
			*pending = c
			take()
		case <-t.C:
			return batch, ns
		case <-ctx.Done():
			return nil, ns
		}
	}
	return batch, ns
}
