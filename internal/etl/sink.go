package etl

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
)

// Sinks. A table sink upserts rows keyed by the table's key: the rows of
// one key are coalesced (a row waiting to be written is replaced by a newer
// one; every item write is an engine message and a change the table's
// triggers read, so only the newest row per key is worth writing) and
// keys are written in parallel, up to the sink's writers at once without
// waiting for each (tableSink.run, and the worker at the end of each batch:
// tableSink.flush), one write per key at a time so that a key's rows land
// in order. A row waits in the binary item form the table
// stores (appendBinItem), which is handed to Table.PutEncodedAsync: no
// item map is built per row, and the buffers are reused. A stream sink appends rows
// as JSON. Both bound what waits (emit blocks when full: backpressure
// reaches the source) and count rows by epoch, so that a checkpoint can
// wait until every row emitted before it is durable.
//
// A row is converted when it is emitted, not when a writer takes it, even
// though a row replaced while it waits is then converted for nothing: the
// row is not the sink's to keep. It is the window's one row record, reset
// and refilled for the next row it emits (emitRow), or an output
// transform's scratch record; keeping it would take a copy of the record
// (its fields and nested records: more bytes than its encoding) per row.
// Converted into a reused buffer, a replaced row costs its encoding's CPU
// and no allocation.

// rowSink is a sink as the runner uses it. emit may block (backpressure);
// it converts the row before it returns, so the caller may reuse it. A
// row's strings may alias the input record it came from (decoded in
// place): what a sink keeps past emit owns copies of them, or the plan
// must not decode in place for it (see Plan.inPlace). A table sink keeps
// the row's encoding (a copy) and its key's text, which for a key of one
// string field is that field's string.
//
// at is the wall time of the emit in Unix nanoseconds, as the caller read
// it (the start of the worker's batch: a clock read per row is not free);
// a table sink measures from it how long a row waits for its write.
type rowSink interface {
	emit(ctx context.Context, row *record.Record, m srcMeta, at int64) error
	// barrier ends the current epoch and returns it.
	barrier() uint64
	// wait blocks until every row of epochs up to e is durable.
	wait(ctx context.Context, e uint64) error
	run(ctx context.Context) error
	// flush starts writing what emit accepted without waiting for run's
	// goroutine to (the worker calls it after each batch); a sink that
	// has no use for it does nothing.
	flush()
	// pending counts the rows accepted and not yet stored (a table sink's
	// stored rows become durable at the next wait).
	pending() int
}

// epochs counts the rows of each epoch not yet durable.
type epochs struct {
	cur    uint64
	open   map[uint64]int
	change chan struct{} // closed and replaced when a count drops to 0
}

func newEpochs() epochs {
	return epochs{cur: 1, open: map[uint64]int{}, change: make(chan struct{})}
}

func (e *epochs) add(ep uint64) { e.open[ep]++ }

func (e *epochs) done(ep uint64) {
	if e.open[ep]--; e.open[ep] <= 0 {
		delete(e.open, ep)
		close(e.change)
		e.change = make(chan struct{})
	}
}

func (e *epochs) pending() (n int) {
	for _, c := range e.open {
		n += c
	}
	return n
}

func (e *epochs) clearUpTo(ep uint64) bool {
	for k := range e.open {
		if k <= ep {
			return false
		}
	}
	return true
}

// tableSink upserts rows into a table.
type tableSink struct {
	t       *table.Table
	keys    []string
	writers int
	max     int
	logger  *slog.Logger
	// onWrite reports a row written: the ingest time of its newest source
	// record, how long it waited from its emit to the write's start (0 when
	// the emit's time is unknown), and how long the write took.
	onWrite func(arrival int64, queued, d time.Duration)
	// onError reports a row the table refused (dropped).
	onError func(err error)
	// onRetry reports a write to be tried again, the engine having not
	// stored the row (err says why).
	onRetry func(err error)
	// retryLog samples the warning of retried writes: with the engine
	// storing nothing, every writer retries every row.
	retryLog logSampler

	// slots are the rows' slots not in use, with their buffers; encs the
	// encoders of rows (one per emit in progress at most).
	slots sync.Pool
	encs  sync.Pool

	// work wakes run when a key is queued or a write ends (a token: run
	// then starts every write it can).
	work chan struct{}
	// retry takes the writes the engine did not store to the retrier; it
	// has room for as many as can be in flight.
	retry chan pendingWrite

	mu struct {
		sync.Mutex
		pending  map[string]*slot
		queue    keyQueue // keys with a row pending and no write in flight, oldest pending first
		seq      uint64   // orders keys that became pending at once
		inflight map[string]bool
		running  bool // run is running (and its retrier): flush may start writes
		ep       epochs
		room     chan struct{} // closed and replaced when room appears and emitters wait
		waiting  int           // emitters waiting for room
		closed   bool
		// writes counts the rows written (stored); synced is writes at
		// the start of the last sync that made them durable.
		writes, synced uint64
		// err, once set, is why the sink stopped for good (its table is
		// gone): emit and wait return it rather than wait for writes
		// that will not be made.
		err error
	}
}

// slot is a row waiting for its write, or being written.
type slot struct {
	bin     []byte // the row's binary item
	epoch   uint64
	arrival int64
	at      int64     // when the row was emitted (Unix nanoseconds)
	since   int64     // when the first row the slot held was emitted (the key became pending)
	start   time.Time // when its write started
}

// keyQueue orders the keys waiting for a writer by when they became
// pending, oldest first: a plain FIFO put a key that got a new row while
// its write was in flight (a hot key) behind every key that became
// pending after it, so under load a hot key's rows waited a whole queue
// for each write.
type keyQueue []queued

type queued struct {
	key   string
	since int64
	seq   uint64
}

func (q keyQueue) Len() int { return len(q) }
func (q keyQueue) Less(i, j int) bool {
	if q[i].since != q[j].since {
		return q[i].since < q[j].since
	}
	return q[i].seq < q[j].seq
}
func (q keyQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *keyQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *keyQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = queued{}
	*q = old[:len(old)-1]
	return x
}

// enqueue queues a key that became pending at since; s.mu is held.
func (s *tableSink) enqueue(key string, since int64) {
	s.mu.seq++
	heap.Push(&s.mu.queue, queued{key: key, since: since, seq: s.mu.seq})
}

func newTableSink(t *table.Table, writers, maxPending int, logger *slog.Logger) *tableSink {
	s := &tableSink{t: t, writers: writers, max: maxPending, logger: logger}
	s.retryLog.every = time.Second
	ks := t.Schema()
	s.keys = []string{ks.Partition.Name}
	if ks.HasSort() {
		s.keys = append(s.keys, ks.Sort.Name)
	}
	s.mu.pending = map[string]*slot{}
	s.mu.inflight = map[string]bool{}
	s.mu.ep = newEpochs()
	s.mu.room = make(chan struct{})
	s.work = make(chan struct{}, 1)
	s.retry = make(chan pendingWrite, max(writers, 1))
	s.slots.New = func() any { return new(slot) }
	s.encs.New = func() any { return new(binItemEncoder) }
	return s
}

// maxKeptBuffer is the largest row buffer a slot keeps for reuse: a rare
// large row's buffer is left to the collector rather than kept by a slot
// for the small rows after it.
const maxKeptBuffer = 64 << 10

// release returns a slot no longer in use.
func (s *tableSink) release(sl *slot) {
	if cap(sl.bin) > maxKeptBuffer {
		sl.bin = nil
	}
	*sl = slot{bin: sl.bin[:0]}
	s.slots.Put(sl)
}

// flush starts the writes of the rows queued while fewer than s.writers are
// in flight, as run does, in the caller's goroutine: the worker calls it
// after each batch, so that the batch's rows (the newest of each key)
// leave without waiting for run, a goroutine woken first and, on busy
// cores, scheduled behind the others; run, woken by the emits, finds them
// taken.
// Rows emitted meanwhile by other workers go too. Calling it is not
// needed for the rows to be written.
func (s *tableSink) flush() {
	for {
		s.mu.Lock()
		if !s.mu.running || len(s.mu.queue) == 0 || len(s.mu.inflight) >= s.writers {
			s.mu.Unlock()
			return
		}
		key, sl := s.take()
		s.mu.Unlock()
		s.write(key, sl)
	}
}

// wakeWriter wakes run, if it is not woken already.
func (s *tableSink) wakeWriter() {
	select {
	case s.work <- struct{}{}:
	default: // woken already: run will look at the queue
	}
}

// roomFreed wakes the emitters waiting for room; s.mu is held.
func (s *tableSink) roomFreed() {
	if s.mu.waiting > 0 {
		close(s.mu.room)
		s.mu.room = make(chan struct{})
	}
}

func (s *tableSink) emit(ctx context.Context, row *record.Record, m srcMeta, at int64) error {
	key, err := s.keyOf(row)
	if err != nil {
		return err
	}
	sl := s.slots.Get().(*slot)
	enc := s.encs.Get().(*binItemEncoder)
	sl.bin = enc.appendItem(sl.bin[:0], row)
	s.encs.Put(enc)
	sl.arrival, sl.at = m.arrival, at
	for {
		s.mu.Lock()
		if err := s.mu.err; err != nil {
			s.mu.Unlock()
			s.release(sl)
			return &fatal{err}
		}
		if old := s.mu.pending[key]; old != nil {
			// The newer row takes the waiting one's place in the queue.
			s.mu.ep.done(old.epoch)
			sl.epoch, sl.since = s.mu.ep.cur, old.since
			s.mu.ep.add(sl.epoch)
			s.mu.pending[key] = sl
			s.mu.Unlock()
			s.release(old)
			return nil
		}
		if len(s.mu.pending) < s.max {
			sl.epoch, sl.since = s.mu.ep.cur, at
			s.mu.pending[key] = sl
			s.mu.ep.add(s.mu.ep.cur)
			wake := !s.mu.inflight[key]
			if wake {
				s.enqueue(key, at)
			}
			s.mu.Unlock()
			if wake {
				s.wakeWriter()
			}
			return nil
		}
		room := s.mu.room
		s.mu.waiting++
		s.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.mu.waiting--
		s.mu.Unlock()
		if ctx.Err() != nil {
			s.release(sl)
			return ctx.Err()
		}
	}
}

// keyOf returns the text of a row's key that rows are coalesced by: the
// key fields' texts, separated by zero bytes.
func (s *tableSink) keyOf(row *record.Record) (string, error) {
	if len(s.keys) == 1 { // the common case, without a copy of a string key
		v, ok := row.Get(s.keys[0])
		if !ok || v.IsNull() {
			return "", fmt.Errorf("sink table %s: the row has no key attribute %q", s.t.Name(), s.keys[0])
		}
		return v.Text(), nil
	}
	var kb strings.Builder
	for i, k := range s.keys {
		v, ok := row.Get(k)
		if !ok || v.IsNull() {
			return "", fmt.Errorf("sink table %s: the row has no key attribute %q", s.t.Name(), k)
		}
		if i > 0 {
			kb.WriteByte(0)
		}
		kb.WriteString(v.Text())
	}
	return kb.String(), nil
}

func (s *tableSink) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.ep.pending()
}

func (s *tableSink) barrier() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.mu.ep.cur
	s.mu.ep.cur++
	return e
}

// wait waits until the rows of epochs up to e are stored, then makes them
// durable with one sync of the table (the writes do not wait for the
// engine's fsync each: see put).
func (s *tableSink) wait(ctx context.Context, e uint64) error {
	for {
		s.mu.Lock()
		if err := s.mu.err; err != nil {
			s.mu.Unlock()
			return err
		}
		ok := s.mu.ep.clearUpTo(e)
		ch := s.mu.ep.change
		writes, synced := s.mu.writes, s.mu.synced
		s.mu.Unlock()
		if ok {
			if writes == synced {
				return nil // nothing stored since the last sync
			}
			if err := s.t.Sync(ctx); err != nil {
				return err
			}
			s.mu.Lock()
			s.mu.synced = max(s.mu.synced, writes)
			s.mu.Unlock()
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run writes the rows until ctx is done: it starts the write of each key
// queued while fewer than s.writers are in flight, without waiting for
// them (Table.PutEncodedAsync); a write's completion, on the table's
// goroutine, ends it and wakes run when a key waits. A write the
// asynchronous path could not make (the engine unavailable or slow to
// answer, an item locked by a transaction) is made again by the retrier,
// synchronously and with backoff, before its key is written again.
//
// One goroutine starting the writes and one handing on their
// acknowledgements replace a pool of writers, each woken twice per row
// (for the row, then for its acknowledgement): with 128 writers at 10,000
// rows a second the pool's wake-ups were a fifth of the process's and its
// goroutines more than half of the time goroutines waited for a P,
// queueing every other stage behind them.
func (s *tableSink) run(ctx context.Context) error {
	failed := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := s.retrier(ctx); err != nil {
			failed <- err
		}
	})
	s.mu.Lock()
	s.mu.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.mu.running = false
		s.mu.Unlock()
	}()
	for {
		select {
		case <-s.work:
		case err := <-failed:
			s.fail(err)
			return err
		case <-ctx.Done():
			return nil
		}
		for ctx.Err() == nil {
			s.mu.Lock()
			if len(s.mu.queue) == 0 || len(s.mu.inflight) >= s.writers {
				s.mu.Unlock()
				break
			}
			key, sl := s.take()
			s.mu.Unlock()
			s.write(key, sl)
		}
	}
}

// write starts the write of a key's row, which is in flight (s.mu is not
// held). Its end is finish, or, the engine having not stored it (as far
// as is known), the retrier's.
func (s *tableSink) write(key string, sl *slot) {
	sl.start = time.Now()
	s.t.PutEncodedAsync(sl.bin, func(_ uint64, err error) {
		if err == nil {
			s.finish(key, sl, true)
			return
		}
		// Never blocks: the channel has room for every write in flight.
		// Once the sink stops nobody takes it, and the row, not counted
		// written, is covered by no checkpoint.
		s.retry <- pendingWrite{key: key, sl: sl}
	})
}

// pendingWrite is a row whose asynchronous write failed.
type pendingWrite struct {
	key string
	sl  *slot
}

// fail stops the sink for good with err: the emits and waits blocked on
// it return err, and those after.
func (s *tableSink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.err = err
	close(s.mu.room)
	s.mu.room = make(chan struct{})
	close(s.mu.ep.change)
	s.mu.ep.change = make(chan struct{})
}

// retrier writes the rows whose asynchronous write failed, one at a time,
// retrying while the engine is unavailable (put), until ctx is done (it
// then returns nil) or the table is gone (it returns that error, and the
// sink fails: no row of the job could be written any more).
func (s *tableSink) retrier(ctx context.Context) error {
	dl := writeDeadline{parent: ctx, timeout: s.t.WriteTimeout()}
	defer dl.stop()
	for {
		select {
		case w := <-s.retry:
			stored, err := s.put(ctx, &dl, w.sl.bin)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err // the table is gone (the error names it)
			}
			s.finish(w.key, w.sl, stored)
		case <-ctx.Done():
			return nil
		}
	}
}

// finish ends the write of a key's row, stored or refused by the table
// (which put reported: not stored, it is not reported written), and wakes
// run for the next.
func (s *tableSink) finish(key string, sl *slot, stored bool) {
	if stored && s.onWrite != nil {
		var wait time.Duration
		if sl.at > 0 {
			wait = time.Duration(max(sl.start.UnixNano()-sl.at, 0))
		}
		s.onWrite(sl.arrival, wait, time.Since(sl.start))
	}
	s.mu.Lock()
	s.written(key, sl)
	more := len(s.mu.queue) > 0
	s.mu.Unlock()
	s.release(sl)
	if more {
		s.wakeWriter()
	}
}

// take takes the key pending longest and its slot for a write; the queue
// is not empty and s.mu is held.
func (s *tableSink) take() (string, *slot) {
	key := heap.Pop(&s.mu.queue).(queued).key
	sl := s.mu.pending[key]
	delete(s.mu.pending, key)
	s.mu.inflight[key] = true
	s.roomFreed()
	return key, sl
}

// written ends the write of a key's slot; a row emitted for the key
// meanwhile is queued by when it was, ahead of keys pending since later.
// s.mu is held.
func (s *tableSink) written(key string, sl *slot) {
	delete(s.mu.inflight, key)
	s.mu.writes++
	s.mu.ep.done(sl.epoch)
	if sl := s.mu.pending[key]; sl != nil {
		s.enqueue(key, sl.since) // this writer looks at the queue next
	}
}

// put writes a binary item, retrying while the engine is unavailable or
// busy (each retry reported to onRetry), and reports whether it was
// stored: an item the table refuses is reported (onError) and dropped; a
// table that is gone (ErrNotFound) is an error, which stops the sink.
// The write returns once stored, not fsynced: the rows a checkpoint covers are made
// durable together by wait, with one sync, before it is committed. A
// crash of the machine may lose rows written since, and the job, resuming
// from its last checkpoint, writes them again. Waiting for the fsync of
// each row held a writer for it and had the disk sync the table
// thousands of times a second beside the writes whose acknowledgement
// promises durability.
//
// The write is unchecked (table.WriteOptions.Unchecked): the sink alone
// writes its rows' keys (a job's partitions own disjoint keys), one write
// per key at a time, so the engine's check of each key's last version
// guards nothing here, and it kept the blocks holding those versions in
// the engine's memory: on pricing_features, whose products are written at
// rates from many a second to one a minute, most blocks of the last
// minutes (the bench's resident memory after 150 s: 2.1–2.3 GB checked,
// 1.5 GB unchecked).
//
// ctx ends the writes (the sink stops); each write is bounded by a
// deadline dl gives it instead.
func (s *tableSink) put(ctx context.Context, dl *writeDeadline, bin []byte) (stored bool, err error) {
	backoff := 10 * time.Millisecond
	for {
		_, err := s.t.PutEncoded(dl.context(time.Now()), bin, table.WriteOptions{NoSync: true, Unchecked: true})
		if err == nil {
			return true, nil
		}
		if ctx.Err() != nil || errors.Is(err, table.ErrNotFound) {
			return false, err // the sink stops; the table is gone
		}
		if !errors.Is(err, table.ErrUnavailable) && !errors.Is(err, table.ErrConflict) && !errors.Is(err, context.DeadlineExceeded) {
			if s.onError != nil {
				s.onError(err)
			}
			return false, nil
		}
		if s.onRetry != nil {
			s.onRetry(err)
		}
		if n, ok := s.retryLog.allow(time.Now()); ok {
			s.logger.Warn("sink writes failed; retrying", "table", s.t.Name(), "writes", n, "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return false, ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

// writeDeadline gives the writes of one writer, one after another, a
// deadline without a context and a timer per write: the context it gives
// ends at least half the timeout after it is asked for, and is replaced by
// one ending a whole timeout later once less than half is left. The table
// then bounds each write by that deadline rather than making its own
// (Table.WriteTimeout). With a context per write, the sink's writers
// allocated a context and a timer per row, and registered each with the
// job's context: a lock all of them took twice per row. Not safe for
// concurrent use.
type writeDeadline struct {
	parent  context.Context
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	until   time.Time
}

// context returns a context ending between half the timeout and the
// timeout after now, and with the parent.
func (d *writeDeadline) context(now time.Time) context.Context {
	if d.ctx == nil || d.until.Sub(now) < d.timeout/2 {
		d.stop()
		d.until = now.Add(d.timeout)
		d.ctx, d.cancel = context.WithDeadline(d.parent, d.until)
	}
	return d.ctx
}

// stop releases the current context.
func (d *writeDeadline) stop() {
	if d.cancel != nil {
		d.cancel()
		d.ctx, d.cancel = nil, nil
	}
}

// appender writes entries to a stream in batches, in the order given: the
// stream sink and the dead-letter writer.
type appender struct {
	s      *stream.Stream
	max    int
	logger *slog.Logger

	mu struct {
		sync.Mutex
		queue []appendEntry
		ep    epochs
		wake  chan struct{}
		err   error // why the appender stopped for good: add and wait return it
	}
	// onAppend reports n records appended; onRetry n records whose
	// append failed, to be tried again.
	onAppend func(n int)
	onRetry  func(n int)
}

type appendEntry struct {
	e     stream.Entry
	epoch uint64
}

func newAppender(s *stream.Stream, maxPending int, logger *slog.Logger) *appender {
	a := &appender{s: s, max: maxPending, logger: logger}
	a.mu.ep = newEpochs()
	a.mu.wake = make(chan struct{})
	return a
}

func (a *appender) signal() {
	close(a.mu.wake)
	a.mu.wake = make(chan struct{})
}

// add queues an entry; it blocks while the queue is full.
func (a *appender) add(ctx context.Context, e stream.Entry) error {
	for {
		a.mu.Lock()
		if err := a.mu.err; err != nil {
			a.mu.Unlock()
			return &fatal{err}
		}
		if len(a.mu.queue) < a.max {
			a.mu.queue = append(a.mu.queue, appendEntry{e: e, epoch: a.mu.ep.cur})
			a.mu.ep.add(a.mu.ep.cur)
			a.signal()
			a.mu.Unlock()
			return nil
		}
		wake := a.mu.wake
		a.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (a *appender) pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.ep.pending()
}

func (a *appender) barrier() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.mu.ep.cur
	a.mu.ep.cur++
	return e
}

func (a *appender) wait(ctx context.Context, e uint64) error {
	for {
		a.mu.Lock()
		if err := a.mu.err; err != nil {
			a.mu.Unlock()
			return err
		}
		ok := a.mu.ep.clearUpTo(e)
		ch := a.mu.ep.change
		a.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fail stops the appender for good with err: the adds and waits blocked
// on it return err, and those after.
func (a *appender) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.err = err
	a.signal()
	close(a.mu.ep.change)
	a.mu.ep.change = make(chan struct{})
}

func (a *appender) run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.fail(err)
		}
	}()
	for {
		a.mu.Lock()
		for len(a.mu.queue) == 0 {
			wake := a.mu.wake
			a.mu.Unlock()
			select {
			case <-wake:
			case <-ctx.Done():
				return nil
			}
			a.mu.Lock()
		}
		n := min(len(a.mu.queue), stream.MaxPutRecords)
		batch := append([]appendEntry(nil), a.mu.queue[:n]...)
		a.mu.queue = a.mu.queue[n:]
		a.signal()
		a.mu.Unlock()
		entries := make([]stream.Entry, len(batch))
		for i := range batch {
			entries[i] = batch[i].e
		}
		backoff := 10 * time.Millisecond
		for len(entries) > 0 {
			res, err := a.s.Append(ctx, entries)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return fmt.Errorf("append to %s: %w", a.s.Name(), err)
			}
			var retry []stream.Entry
			for i, r := range res {
				if errors.Is(r.Err, stream.ErrNotFound) {
					return fmt.Errorf("append to %s: %w", a.s.Name(), r.Err) // the stream is gone
				}
				if r.Err != nil {
					retry = append(retry, entries[i])
				}
			}
			if a.onAppend != nil {
				a.onAppend(len(entries) - len(retry))
			}
			if a.onRetry != nil && len(retry) > 0 {
				a.onRetry(len(retry))
			}
			entries = retry
			if len(retry) > 0 {
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil
				}
				backoff = min(2*backoff, time.Second)
			}
		}
		a.mu.Lock()
		for _, b := range batch {
			a.mu.ep.done(b.epoch)
		}
		a.mu.Unlock()
	}
}

// streamSink appends rows as JSON objects to a stream.
type streamSink struct {
	*appender
	keyField string
	buf      []byte
	mu       sync.Mutex
}

// flush does nothing: the appender's batches are its run's to make.
func (s *streamSink) flush() {}

func (s *streamSink) emit(ctx context.Context, row *record.Record, _ srcMeta, _ int64) error {
	v, ok := row.Get(s.keyField)
	if !ok || v.IsNull() {
		return fmt.Errorf("sink stream %s: the row has no partition key field %q", s.s.Name(), s.keyField)
	}
	s.mu.Lock()
	s.buf = record.AppendJSON(s.buf[:0], row, nil)
	data := append([]byte(nil), s.buf...)
	s.mu.Unlock()
	key := keyText(v)
	if v.Kind() == record.KindString {
		key = strings.Clone(key) // the entry waits in the queue; the row's strings may alias its input
	}
	return s.add(ctx, stream.Entry{PartitionKey: key, Data: data})
}
