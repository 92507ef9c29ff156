package etl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// A run is one life of a job in this process: it reads the source's
// partitions, runs the pipeline on worker goroutines (each partition on
// one worker, in order), writes to the sinks and checkpoints each
// partition's position, counters and window state.
//
// Exactly-once effect: a partition's checkpoint is written only after every
// row and dead letter emitted before it is durable (sink epochs), and it
// holds the position of the last record those came from. After a crash the
// run resumes from the checkpoint with the checkpointed window state and
// emits the same rows again (emission depends on event times and input
// order only), which the idempotent upserts absorb.

// partState is the state of one source partition.
type partState struct {
	part   int
	win    *windowOp
	has    bool // a record was processed (or restored)
	seq    uint64
	index  uint32
	offset uint64
	dirty  atomic.Bool // processed since the last checkpoint
	// torn: a record's processing was cut off by a hard stop, so the window
	// state may hold part of a record the position does not cover; the
	// partition is neither processed further nor checkpointed in this run.
	torn bool

	in, processed, filtered, dead, late, emitted atomic.Uint64
	wm                                           atomic.Int64
	lastOffset                                   atomic.Int64 // -1 before any record

	// chain is the window state's checkpoint chain as the next checkpoint
	// extends it: a full state and the deltas on top of it. The goroutine
	// that encodes the checkpoints owns it (the checkpointer's, or the
	// worker's once the checkpointer stopped); the worker reads its sizes
	// from chainBase, chainBaseBytes, chainDeltaBytes and chainDeltas,
	// one checkpoint behind at most, to choose a full state or a delta.
	// forceFull is set by the checkpointer when a checkpoint failed (its
	// delta is lost, so the next one must be full).
	chain                           stateChain
	chainBase                       atomic.Uint64
	chainBaseBytes, chainDeltaBytes atomic.Int64
	chainDeltas                     atomic.Int64
	forceFull                       atomic.Bool
	// ckBusy: a checkpoint of the partition is being captured, waits for
	// the checkpointer or is in flight; the next one begins after it (so
	// the chain's sizes the worker reads are the previous checkpoint's).
	ckBusy atomic.Bool
}

// stateChain describes a partition's stored window state: the full state
// base (its chunks), and the deltas on top of it (their chunks), in order.
type stateChain struct {
	base       uint64 // 0: no window state stored
	baseChunks uint32
	deltas     []uint32
	baseBytes  int
	deltaBytes int
}

// batch is the records of one partition read in one go.
type batch struct {
	ps      *partState
	recs    []srcRecord
	fetched int64 // when the reader had them (Unix nanoseconds)
}

// srcRecord is one source record.
type srcRecord struct {
	data []byte
	rec  *record.Record // a table change, already a record
	// img is a table change's new image, encoded as the record's data
	// only if the record is dead-lettered.
	img     item.Item
	key     string
	m       srcMeta
	offset  uint64
	hasOffs bool
}

type run struct {
	m       *Manager
	job     string
	def     *jobDef
	plan    *Plan
	logger  *slog.Logger
	parts   []*partState
	live    atomic.Pointer[[]*partState] // parts, once restored (for Status)
	sinks   map[string]rowSink           // "" is the main sink
	dlq     *appender
	lookups map[string]*Lookup
	src     *stream.Stream
	tbl     *table.Table
	// srcCreated is the creation time of the source (Unix ns), which
	// checkpoints keep: a checkpoint of a source deleted and created again
	// under its name does not name a position in this one.
	srcCreated int64
	every      time.Duration
	print      string // fingerprint of what the window state depends on

	rowsWritten atomic.Uint64
	started     time.Time
	// obs are the run's stage histograms, resolved once (a label lookup
	// per record is not free).
	obs struct {
		process, sourceWait, inbox, sinkQueue, sinkWrite, endToEnd prometheus.Observer
	}
	stageNanos [3]atomic.Int64 // process, sink_write, end_to_end sums
	stageCount [3]atomic.Int64
}

// stopTimeout bounds how long a stopping job's workers may take to finish
// the records already read (they wait for sinks with room).
const stopTimeout = 30 * time.Second

const (
	stageProcess = iota
	stageSinkWrite
	stageEndToEnd
)

func fingerprint(s *Spec) string {
	b, _ := json.Marshal(struct {
		Source     SourceSpec
		Transforms []TransformSpec
		Joins      []JoinSpec
		Window     *WindowSpec
	}{s.Source, s.Transforms, s.Joins, s.Window})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func (m *Manager) newRun(ctx context.Context, d *jobDef) (*run, error) {
	plan, err := Compile(ctx, d.Spec, m.catalog)
	if err != nil {
		return nil, err
	}
	r := &run{m: m, job: d.Spec.Name, def: d, plan: plan, logger: m.logger.With("job", d.Spec.Name),
		sinks: map[string]rowSink{}, lookups: map[string]*Lookup{}, print: fingerprint(d.Spec), started: time.Now()}
	st := m.metrics.stage
	r.obs.process = st.WithLabelValues(r.job, "process")
	r.obs.sourceWait = st.WithLabelValues(r.job, "source_wait")
	r.obs.inbox = st.WithLabelValues(r.job, "inbox")
	r.obs.sinkQueue = st.WithLabelValues(r.job, "sink_queue")
	r.obs.sinkWrite = st.WithLabelValues(r.job, "sink_write")
	r.obs.endToEnd = m.metrics.endToEnd.WithLabelValues(r.job)
	r.every = d.Spec.CheckpointInterval.D()
	if r.every <= 0 {
		r.every = m.cfg.CheckpointInterval
	}
	return r, nil
}

func (r *run) openSink(ctx context.Context, s *SinkSpec) (rowSink, []string, error) {
	if s.Table != "" {
		t, err := r.m.tables.Open(ctx, s.Table)
		if err != nil {
			return nil, nil, fmt.Errorf("sink table %q: %w", s.Table, err)
		}
		ts := newTableSink(t, r.m.cfg.SinkWriters, r.m.cfg.MaxPendingRows, r.logger)
		rows := r.m.metrics.rows.WithLabelValues(r.job)
		ts.onWrite = func(arrival int64, queued, d time.Duration) {
			r.rowsWritten.Add(1)
			rows.Inc()
			if queued > 0 {
				r.obs.sinkQueue.Observe(queued.Seconds())
			}
			r.obs.sinkWrite.Observe(d.Seconds())
			r.observe(stageSinkWrite, d.Nanoseconds())
			if arrival > 0 {
				e2e := time.Now().UnixNano() - arrival
				r.obs.endToEnd.Observe(float64(e2e) / 1e9)
				r.observe(stageEndToEnd, e2e)
			}
		}
		refused, retries := r.m.metrics.refused.WithLabelValues(r.job), r.m.metrics.retries.WithLabelValues(r.job)
		refusedLog := &logSampler{every: time.Second} // a job whose every row is refused logs once a second
		ts.onError = func(err error) {
			refused.Inc()
			if n, ok := refusedLog.allow(time.Now()); ok {
				r.logger.Warn("sink refused rows; dropped", "table", s.Table, "rows", n, "err", err)
			}
		}
		ts.onRetry = func(error) { retries.Inc() }
		return ts, ts.keys, nil
	}
	st, err := r.m.streams.Open(ctx, s.Stream)
	if err != nil {
		return nil, nil, fmt.Errorf("sink stream %q: %w", s.Stream, err)
	}
	a := newAppender(st, r.m.cfg.MaxPendingRows, r.logger)
	a.onAppend = func(n int) {
		r.rowsWritten.Add(uint64(n))
		r.m.metrics.rows.WithLabelValues(r.job).Add(float64(n))
	}
	a.onRetry = func(n int) { r.m.metrics.retries.WithLabelValues(r.job).Add(float64(n)) }
	return &streamSink{appender: a, keyField: s.PartitionKey}, nil, nil
}

func (r *run) observe(stage int, nanos int64) {
	r.stageNanos[stage].Add(nanos)
	r.stageCount[stage].Add(1)
}

// execute runs the job until ctx is done (a stop: it then checkpoints and
// returns nil) or it fails.
func (r *run) execute(ctx context.Context) error {
	spec := r.plan.spec
	// Everything the run writes to must exist before it reads.
	dlq, err := r.m.streams.Open(ctx, spec.DeadLetter)
	if errors.Is(err, stream.ErrNotFound) {
		if _, err = r.m.streams.Create(ctx, stream.Spec{Name: spec.DeadLetter, Partitions: 1}); err != nil && !errors.Is(err, stream.ErrExists) {
			return fmt.Errorf("dead-letter stream %q: %w", spec.DeadLetter, err)
		}
		dlq, err = r.m.streams.Open(ctx, spec.DeadLetter)
	}
	if err != nil {
		return fmt.Errorf("dead-letter stream %q: %w", spec.DeadLetter, err)
	}
	r.dlq = newAppender(dlq, r.m.cfg.MaxPendingRows, r.logger)
	main, keys, err := r.openSink(ctx, &spec.Sink)
	if err != nil {
		return err
	}
	r.sinks[""] = main
	r.plan.setLatestOnly(keys)
	for i := range spec.Sinks {
		s, _, err := r.openSink(ctx, &spec.Sinks[i])
		if err != nil {
			return err
		}
		r.sinks[spec.Sinks[i].Name] = s
	}
	nparts := 1
	if spec.Source.Stream != "" {
		if r.src, err = r.m.streams.Open(ctx, spec.Source.Stream); err != nil {
			return fmt.Errorf("source stream %q: %w", spec.Source.Stream, err)
		}
		nparts = r.src.Partitions()
		r.srcCreated = r.src.Created().UnixNano()
	} else if r.tbl, err = r.m.tables.Open(ctx, spec.Source.Table); err != nil {
		return fmt.Errorf("source table %q: %w", spec.Source.Table, err)
	} else {
		r.srcCreated = r.tbl.Created().UnixNano()
	}

	// Sinks, dead letters and lookups run until the workers have written
	// their last checkpoint.
	sinkCtx, stopSinks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSinks()
	var bg sync.WaitGroup
	bgErr := make(chan error, 8+len(spec.Joins))
	goBG := func(name string, fn func(context.Context) error) {
		bg.Go(func() {
			pprof.Do(sinkCtx, pprof.Labels("job", r.job, "task", name), func(c context.Context) {
				if err := fn(c); err != nil {
					bgErr <- fmt.Errorf("%s: %w", name, err)
				}
			})
		})
	}
	defer bg.Wait()
	defer stopSinks()
	goBG("dead-letters", r.dlq.run)
	for name, s := range r.sinks {
		task := "sink"
		if name != "" {
			task += " " + name
		}
		goBG(task, s.run)
	}
	for i, j := range r.plan.joins {
		t, err := r.m.tables.Open(ctx, j.Table)
		if err != nil {
			return fmt.Errorf("join table %q: %w", j.Table, err)
		}
		l := newLookup(j, r.plan.joinTypes[i])
		r.lookups[j.Table] = l
		goBG("lookup "+j.Table, func(c context.Context) error { return l.Run(c, t, r.logger) })
		select {
		case <-l.Ready():
		case err := <-bgErr:
			return err
		case <-ctx.Done():
			return nil
		}
	}

	// Partitions: restore checkpoints.
	r.parts = make([]*partState, nparts)
	starts := make([]startAt, nparts)
	for p := range nparts {
		ps := &partState{part: p}
		ps.lastOffset.Store(-1)
		ps.wm.Store(math.MinInt64)
		if r.plan.window != nil {
			ps.win = newWindowOp(r.plan.window, r.posText)
		}
		st, err := r.restore(ctx, ps)
		if err != nil {
			return err
		}
		starts[p] = st
		r.parts[p] = ps
		if ps.chain.base > 0 {
			// Only the run that owns the job, before it writes a
			// checkpoint: a status read also restores, and must not
			// remove what a running job is writing.
			if kv, err := r.m.state(ctx); err == nil {
				r.removeOldState(ctx, kv, p, ps.chain.base)
			}
		}
	}

	r.live.Store(&r.parts)
	workers := spec.Parallelism
	if workers <= 0 {
		workers = min(nparts, 4)
	}
	workers = min(workers, nparts)
	inbox := make([]chan batch, workers)
	for i := range inbox {
		inbox[i] = make(chan batch, 4)
	}
	readCtx, stopReads := context.WithCancel(ctx)
	defer stopReads()
	var readers, wk sync.WaitGroup
	errc := make(chan error, nparts+workers)
	for p := range nparts {
		readers.Go(func() {
			pprof.Do(readCtx, pprof.Labels("job", r.job, "task", "read", "partition", strconv.Itoa(p)), func(c context.Context) {
				if err := r.read(c, r.parts[p], starts[p], inbox[p%workers]); err != nil && c.Err() == nil {
					errc <- fmt.Errorf("read partition %d: %w", p, err)
				}
			})
		})
	}
	// Workers finish the record at hand, and the batches already read, when
	// the job stops (a record cut off in the middle could leave window state
	// the checkpoint's position does not cover); only a stop that takes
	// longer than stopTimeout (a sink that cannot write) cuts them off.
	workCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	var stopper sync.WaitGroup
	defer func() {
		hardStop()
		stopper.Wait()
	}()
	stopper.Go(func() {
		select {
		case <-ctx.Done():
		case <-workCtx.Done():
			return
		}
		t := time.NewTimer(stopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			r.logger.Warn("job did not stop within the timeout; cutting its workers off", "timeout", stopTimeout)
			hardStop()
		case <-workCtx.Done():
		}
	})
	for w := range workers {
		var mine []*partState
		for p := w; p < nparts; p += workers {
			mine = append(mine, r.parts[p])
		}
		wk.Go(func() {
			pprof.Do(workCtx, pprof.Labels("job", r.job, "task", "work", "worker", strconv.Itoa(w)), func(c context.Context) {
				if err := r.work(c, sinkCtx, inbox[w], mine); err != nil {
					errc <- err
				}
			})
		})
	}
	r.logger.Info("job running", "partitions", nparts, "workers", workers)
	var ferr error
	select {
	case <-ctx.Done():
	case ferr = <-errc:
	case ferr = <-bgErr:
	}
	stopReads()
	readers.Wait()
	for _, c := range inbox {
		close(c)
	}
	if ferr != nil {
		hardStop() // failing: nothing more is worth finishing
	}
	wk.Wait()
	hardStop()
	stopSinks()
	bg.Wait()
	if ferr == nil {
		select {
		case ferr = <-errc:
		default:
		}
	}
	return ferr
}

func (r *run) posText(m srcMeta) string {
	if r.src != nil {
		return stream.Position{Seq: m.seq, Index: m.index}.SequenceNumber(m.partition)
	}
	return strconv.FormatUint(m.seq, 10)
}

// startAt is where a partition's reading starts.
type startAt struct {
	after bool // after the checkpoint's position
	seq   uint64
	index uint32
	saved time.Time // when the checkpoint was stored
	// recreated is set when the checkpoint belongs to an earlier source
	// of the same name.
	recreated bool
}

// read delivers a partition's records to its worker's inbox.
func (r *run) read(ctx context.Context, ps *partState, st startAt, out chan<- batch) error {
	if r.tbl != nil {
		pos := table.Position{Kind: table.Latest}
		switch {
		case st.after:
			var from uint64
			var pastEnd bool
			var err error
			if st.recreated {
				from, err = r.tbl.FirstSince(ctx, st.saved)
			} else {
				from, pastEnd, err = r.tbl.ResumeAfter(ctx, st.seq, st.saved)
			}
			if err != nil {
				return err
			}
			if pastEnd || st.recreated {
				r.pastEnd(ps, st, strconv.FormatUint(st.seq, 10), strconv.FormatUint(from, 10))
			}
			pos = table.Position{Kind: table.AtSeq, Seq: from}
		case r.plan.spec.Source.Start == "trim_horizon":
			pos = table.Position{Kind: table.TrimHorizon}
		}
		sub, err := r.tbl.Subscribe(ctx, pos)
		if err != nil {
			return err
		}
		defer sub.Stop()
		for {
			c, err := sub.Next(ctx)
			if err != nil {
				return err
			}
			rec := changeRecord(c, r.plan.source)
			b := batch{ps: ps, recs: []srcRecord{{rec: rec, img: c.New, m: srcMeta{partition: 0, seq: c.Seq, arrival: c.Time.UnixNano()}}}, fetched: time.Now().UnixNano()}
			select {
			case out <- b:
			case <-ctx.Done():
				return nil
			}
		}
	}
	var from stream.Position
	if st.after {
		after := stream.Position{Seq: st.seq, Index: st.index}
		var pastEnd bool
		var err error
		if st.recreated {
			from, err = r.src.Resolve(ctx, ps.part, stream.Start{Kind: stream.AtTimestamp, Time: st.saved})
		} else {
			from, pastEnd, err = r.src.ResumeAfter(ctx, ps.part, after, st.saved)
		}
		if err != nil {
			return err
		}
		if pastEnd || st.recreated {
			r.pastEnd(ps, st, after.SequenceNumber(ps.part), from.SequenceNumber(ps.part))
		}
	} else {
		s := stream.Start{Kind: stream.Latest}
		switch r.plan.spec.Source.Start {
		case "trim_horizon":
			s = stream.Start{Kind: stream.TrimHorizon}
		case "at_timestamp":
			s = stream.Start{Kind: stream.AtTimestamp, Time: r.plan.spec.Source.StartTime}
		}
		var err error
		if from, err = r.src.Resolve(ctx, ps.part, s); err != nil {
			return err
		}
	}
	sub, err := r.src.Subscribe(ctx, ps.part, from)
	if err != nil {
		return err
	}
	defer sub.Stop()
	for {
		recs, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			continue
		}
		b := batch{ps: ps, recs: make([]srcRecord, len(recs)), fetched: time.Now().UnixNano()}
		for i := range recs {
			sr := &recs[i]
			b.recs[i] = srcRecord{data: sr.Data, key: sr.PartitionKey, offset: sr.Offset, hasOffs: true,
				m: srcMeta{partition: sr.Partition, seq: sr.Position.Seq, index: sr.Position.Index, arrival: sr.Arrival.UnixNano()}}
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return nil
		}
	}
}

// pastEnd reports a partition whose checkpoint does not name a position in
// its source: the source was deleted and created again under its name, or
// lost an unsynced tail to a power failure, so the checkpoint lies past its
// end. Reading goes on from the first record stored after the checkpoint
// was, so that the records the source stored at sequences the job had
// passed are not skipped. The window state and the rows written keep what
// lost records contributed.
func (r *run) pastEnd(ps *partState, st startAt, checkpoint, from string) {
	r.m.metrics.pastEnd.WithLabelValues(r.job).Inc()
	msg := "checkpoint past the end of the source (it lost records it had not synced): reading what it stored after the checkpoint"
	if st.recreated {
		msg = "checkpoint of a source that was deleted and created again since: reading what it stored after the checkpoint"
	}
	r.logger.Warn(msg, "partition", ps.part, "checkpoint", checkpoint, "from", from)
}

// changeRecord turns a table change into a record: the new image (the old
// one for a removal), typed by the schema, and _event (INSERT, MODIFY or
// REMOVE).
func changeRecord(c *table.Change, schema *record.Schema) *record.Record {
	img := c.New
	if img == nil {
		img = c.Old
	}
	if img == nil {
		img = c.Keys
	}
	rec := recordOf(img)
	if schema != nil {
		for i, f := range rec.Fields() {
			if col := schema.Lookup(f.Name); col != nil {
				if v, err := record.Cast(f.Value, col.Type); err == nil {
					rec.SetAt(i, v)
				}
			}
		}
	}
	rec.Set(fieldEvent, record.StringValue(string(c.Event)))
	return rec
}

// fieldEvent names the change's event in records read from a table.
const fieldEvent = "_event"

// What woke a worker up.
const (
	evBatch = iota
	evTick
	evFlush
)

// work processes the batches of its partitions and checkpoints them.
func (r *run) work(ctx, sinkCtx context.Context, in <-chan batch, mine []*partState) error {
	var pr *processor
	pr = newProcessor(r.plan, func(name string) *Lookup { return r.lookups[name] },
		func(ctx context.Context, name string, row *record.Record, m srcMeta) error {
			return r.sinkTo(ctx, name, row, m, pr.clock)
		})
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	var flushTick <-chan time.Time
	if r.plan.window != nil && r.plan.window.emit == emitInterval {
		ft := time.NewTicker(time.Duration(max(r.plan.window.interval/4, int64(time.Millisecond))))
		defer ft.Stop()
		flushTick = ft.C
	}
	ck := newCheckpointer(r, len(mine))
	defer ck.stop()
	copying := false // a window state capture is in progress
	for {
		var (
			b  batch
			ok bool
			ev int
		)
		// While a capture is in progress, the worker copies a slice of
		// it whenever it has nothing else to do.
		if copying {
			select {
			case b, ok = <-in:
			case <-tick.C:
				ev = evTick
			case <-flushTick:
				ev = evFlush
			default:
				copying = ck.step(copyIdle)
				continue
			}
		} else {
			select {
			case b, ok = <-in:
			case <-tick.C:
				ev = evTick
			case <-flushTick:
				ev = evFlush
			}
		}
		switch ev {
		case evBatch:
			if !ok {
				// Stopping: write the last checkpoints once every row is durable.
				ck.stop()
				for _, ps := range mine {
					if ps.torn {
						r.logger.Warn("a record was cut off by the hard stop; the next run replays the partition from its previous checkpoint", "partition", ps.part)
						continue
					}
					if err := r.checkpointNow(sinkCtx, ps, pr); err != nil {
						ps.forceFull.Store(true)
						r.logger.Warn("final checkpoint failed; the next run replays from the previous one", "partition", ps.part, "err", err)
					}
				}
				return nil
			}
			if b.ps.torn {
				continue
			}
			if err := r.process(ctx, pr, b); err != nil {
				return err
			}
			r.flushSinks()
			if copying {
				copying = ck.step(copyPerBatch)
			}
		case evTick:
			for _, ps := range mine {
				if ps.dirty.Load() {
					ck.submit(ps, pr)
				}
			}
			copying = ck.step(0)
		case evFlush:
			pr.clock = time.Now().UnixNano()
			for _, ps := range mine {
				if err := pr.flushDue(ctx, ps.win); err != nil {
					return err
				}
			}
			r.flushSinks()
		}
	}
}

// flushSinks starts the writes of the rows the worker's last batch (or
// window flush) emitted (see tableSink.flush).
func (r *run) flushSinks() {
	for _, s := range r.sinks {
		s.flush()
	}
}

// sinkTo emits a row to the named sink; at is when (see rowSink).
func (r *run) sinkTo(ctx context.Context, name string, row *record.Record, m srcMeta, at int64) error {
	s := r.sinks[name]
	if s == nil {
		return fmt.Errorf("no sink %q", name)
	}
	return s.emit(ctx, row, m, at)
}

func (r *run) process(ctx context.Context, pr *processor, b batch) error {
	ps := b.ps
	start := time.Now()
	now := start.UnixNano()
	pr.clock = now
	// Waits before the worker took the batch, observed once per batch (a
	// histogram observation per record is not free): since its oldest
	// record was ingested (the first: a batch is in order), and since the
	// reader had it.
	if len(b.recs) > 0 && b.recs[0].m.arrival > 0 {
		r.obs.sourceWait.Observe(float64(max(now-b.recs[0].m.arrival, 0)) / 1e9)
	}
	if b.fetched > 0 {
		r.obs.inbox.Observe(float64(max(now-b.fetched, 0)) / 1e9)
	}
	var in, processed, filtered, dead, late uint64
recs:
	for i := range b.recs {
		sr := &b.recs[i]
		var o outcome
		var re *RecordError
		var err error
		if sr.rec != nil {
			o, re, err = pr.processRecord(ctx, ps.win, sr.rec, sr.m)
		} else {
			o, re, err = pr.processData(ctx, ps.win, sr.data, sr.m)
		}
		if err != nil {
			if ctx.Err() != nil {
				ps.torn = true // hard stop mid-record
				break recs
			}
			return err
		}
		switch o {
		case outProcessed:
			processed++
		case outFiltered:
			filtered++
		case outDead:
			if err := r.deadLetter(ctx, sr, re); err != nil {
				ps.torn = true // hard stop: the dead letter was not queued
				break recs
			}
			dead++
			if re.Reason == "late" {
				late++
			}
		}
		in++
		ps.has, ps.seq, ps.index = true, sr.m.seq, sr.m.index
		ps.dirty.Store(true)
		if sr.hasOffs {
			ps.offset = sr.offset
			ps.lastOffset.Store(int64(sr.offset))
		} else {
			ps.lastOffset.Store(int64(sr.m.seq))
		}
	}
	ps.in.Add(in)
	ps.processed.Add(processed)
	ps.filtered.Add(filtered)
	ps.dead.Add(dead)
	ps.late.Add(late)
	if ps.win != nil {
		ps.wm.Store(ps.win.watermark())
	}
	mt := r.m.metrics
	mt.in.WithLabelValues(r.job).Add(float64(in))
	mt.processed.WithLabelValues(r.job).Add(float64(processed))
	mt.filtered.WithLabelValues(r.job).Add(float64(filtered))
	mt.dead.WithLabelValues(r.job).Add(float64(dead))
	mt.late.WithLabelValues(r.job).Add(float64(late))
	if in > 0 {
		per := time.Since(start).Nanoseconds() / int64(in)
		r.obs.process.Observe(float64(per) / 1e9)
		r.observe(stageProcess, per)
	}
	return nil
}

func (r *run) deadLetter(ctx context.Context, sr *srcRecord, re *RecordError) error {
	src := r.plan.spec.Source.Stream
	if src == "" {
		src = r.plan.spec.Source.Table
	}
	msg := ""
	if re.Err != nil {
		msg = re.Err.Error()
	}
	data := sr.data
	if sr.rec != nil && data == nil {
		data = sr.img.AppendJSON(nil) // the new image in attribute-value JSON ({} for a removal)
	}
	d := &DeadLetter{Job: r.job, Reason: re.Reason, Stage: re.Stage, Error: msg, Source: src, Partition: sr.m.partition,
		Position: r.posText(sr.m), PartitionKey: sr.key, Arrival: time.Unix(0, sr.m.arrival).UTC(), Data: data, Time: time.Now().UTC()}
	return r.dlq.add(ctx, deadLetterEntry(d))
}

// A checkpoint of one partition: a head in the state bucket under
// JOB.PARTITION (positions, counters, and the window state's chain), and
// the window state itself in chunks under JOB.PARTITION.s<SLOT>.<CHUNK>
// (a full state) and JOB.PARTITION.s<SLOT>.d<N>.<CHUNK> (the Nth delta
// on top of it), where SLOT is the chain's base number modulo 2: a new
// full state goes to the slot the head does not name, so it never
// overwrites the state the head names. Chunks are written before the head
// that names them, so the head is the commit point: a crash between leaves
// chunks nothing names, never a head without its state. Keys no head names
// (the other slot; chunks and deltas past a chain's counts) are left to be
// overwritten, and the other slot is removed when a run starts.
//
// Most checkpoints write a delta: the keys and panes that changed since
// the previous checkpoint, so a checkpoint costs what changed, not the
// whole state (with 10,000 products and a 1-hour aggregate the state is
// tens of megabytes). A full state is written when the deltas since the
// last one add up to its size (so restoring reads at most about twice the
// state), after a failed checkpoint, and at the first checkpoint.
type checkpointData struct {
	print                                        string
	source                                       int64 // the source's creation time, Unix ns (0 in checkpoints from before it was kept)
	has                                          bool
	seq                                          uint64
	index                                        uint32
	offset                                       uint64
	in, processed, filtered, dead, late, emitted uint64
	rowsWritten                                  uint64
	chain                                        stateChain
	// blob is the window state this checkpoint writes before its head: a
	// full state (full) or a delta (the chain's last). Empty when the job
	// has no window. capture is the state to encode into it (see
	// [run.encode]); nil once encoded.
	blob    []byte
	full    bool
	capture *windowOp
	// window is a version 1 head's whole state (read only).
	window []byte
}

const headVersion = 2

// maxDeltas bounds a chain: a full state follows this many deltas.
const maxDeltas = 1000

func (c *checkpointData) encode() []byte {
	e := enc{}
	e.uvarint(headVersion)
	e.str(c.print)
	e.bool(c.has)
	e.uvarint(c.seq)
	e.uvarint(uint64(c.index))
	e.uvarint(c.offset)
	for _, v := range []uint64{c.in, c.processed, c.filtered, c.dead, c.late, c.emitted, c.rowsWritten} {
		e.uvarint(v)
	}
	e.uvarint(c.chain.base)
	e.uvarint(uint64(c.chain.baseChunks))
	e.uvarint(uint64(c.chain.baseBytes))
	e.uvarint(uint64(c.chain.deltaBytes))
	e.uvarint(uint64(len(c.chain.deltas)))
	for _, n := range c.chain.deltas {
		e.uvarint(uint64(n))
	}
	e.varint(c.source) // last: readers of earlier heads stop before it
	return e.b
}

func decodeCheckpoint(b []byte) (*checkpointData, error) {
	d := dec{b: b}
	v := d.uvarint()
	if v != 1 && v != headVersion {
		return nil, errCorrupt
	}
	c := &checkpointData{print: d.str(), has: d.bool(), seq: d.uvarint(), index: uint32(d.uvarint()), offset: d.uvarint()}
	for _, p := range []*uint64{&c.in, &c.processed, &c.filtered, &c.dead, &c.late, &c.emitted, &c.rowsWritten} {
		*p = d.uvarint()
	}
	if v == 1 {
		c.window = []byte(d.str())
	} else {
		c.chain.base = d.uvarint()
		c.chain.baseChunks = uint32(d.uvarint())
		c.chain.baseBytes = int(d.uvarint())
		c.chain.deltaBytes = int(d.uvarint())
		n := d.count()
		for range n {
			c.chain.deltas = append(c.chain.deltas, uint32(d.uvarint()))
		}
		if len(d.b) > 0 {
			c.source = d.varint()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

func (r *run) stateKey(part int) string { return r.job + "." + strconv.Itoa(part) }

// chunkKey names chunk i of the full state base (delta 0) or of delta n.
func (r *run) chunkKey(part int, base uint64, delta int, i int) string {
	k := r.slotPrefix(part, base)
	if delta > 0 {
		k += ".d" + strconv.Itoa(delta)
	}
	return k + "." + strconv.Itoa(i)
}

// chunkSize bounds one stored chunk of window state: half the engine's
// largest message (1 MB on a NATS server's default), at most 4 MB.
func (r *run) chunkSize() int {
	if n := r.m.stateChunk.Load(); n > 0 {
		return int(n)
	}
	n := int(r.m.eng.Conn().MaxPayload() / 2)
	return min(max(n, 64<<10), 4<<20)
}

func chunks(n, size int) uint32 {
	if n == 0 {
		return 0
	}
	return uint32((n + size - 1) / size)
}

// readBlob reads and joins the chunks of a full state or a delta.
func (r *run) readBlob(ctx context.Context, kv jetstream.KeyValue, part int, base uint64, delta int, n uint32) ([]byte, error) {
	var out []byte
	for i := range int(n) {
		e, err := kv.Get(ctx, r.chunkKey(part, base, delta, i))
		if err != nil {
			return nil, fmt.Errorf("window state chunk %s: %w", r.chunkKey(part, base, delta, i), err)
		}
		out = append(out, e.Value()...)
	}
	return out, nil
}

// writeBlob stores b as chunks.
func (r *run) writeBlob(ctx context.Context, kv jetstream.KeyValue, part int, base uint64, delta int, b []byte) error {
	size := r.chunkSize()
	for i := 0; len(b) > 0; i++ {
		n := min(len(b), size)
		if _, err := kv.Put(ctx, r.chunkKey(part, base, delta, i), b[:n]); err != nil {
			return fmt.Errorf("write window state: %w", err)
		}
		b = b[n:]
	}
	return nil
}

func (r *run) slotPrefix(part int, base uint64) string {
	return r.stateKey(part) + ".s" + strconv.FormatUint(base%2, 10)
}

// removeOldState removes the window state chunks of the partition that are
// not in base's slot: a replaced state, or one a crash left unnamed.
func (r *run) removeOldState(ctx context.Context, kv jetstream.KeyValue, part int, base uint64) {
	keys, err := kv.ListKeysFiltered(ctx, r.stateKey(part)+".>")
	if err != nil {
		r.logger.Warn("old window state not removed", "partition", part, "err", err)
		return
	}
	keep := r.slotPrefix(part, base) + "."
	var old []string
	for k := range keys.Keys() {
		if !strings.HasPrefix(k, keep) {
			old = append(old, k)
		}
	}
	for _, k := range old {
		if err := kv.Purge(ctx, k); err != nil {
			r.logger.Warn("old window state not removed", "partition", part, "key", k, "err", err)
			return
		}
	}
}

// restore loads a partition's checkpoint.
func (r *run) restore(ctx context.Context, ps *partState) (startAt, error) {
	kv, err := r.m.state(ctx)
	if err != nil {
		return startAt{}, err
	}
	e, err := kv.Get(ctx, r.stateKey(ps.part))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return startAt{}, nil
	}
	if err != nil {
		return startAt{}, fmt.Errorf("checkpoint of partition %d: %w", ps.part, err)
	}
	c, err := decodeCheckpoint(e.Value())
	if err != nil {
		return startAt{}, fmt.Errorf("checkpoint of partition %d: %w", ps.part, err)
	}
	ps.in.Store(c.in)
	ps.processed.Store(c.processed)
	ps.filtered.Store(c.filtered)
	ps.dead.Store(c.dead)
	ps.late.Store(c.late)
	ps.emitted.Store(c.emitted)
	r.rowsWritten.Store(max(r.rowsWritten.Load(), c.rowsWritten))
	ps.has, ps.seq, ps.index, ps.offset = c.has, c.seq, c.index, c.offset
	if c.has {
		if r.src != nil {
			ps.lastOffset.Store(int64(c.offset))
		} else {
			ps.lastOffset.Store(int64(c.seq))
		}
	}
	ps.chain = c.chain
	ps.publishChain()
	if ps.win != nil && (len(c.window) > 0 || c.chain.base > 0) {
		if c.print != r.print {
			r.logger.Warn("the job's source, transforms, joins or window changed: window state dropped, positions kept", "partition", ps.part)
			ps.forceFull.Store(true)
		} else if err := r.restoreWindow(ctx, kv, ps, c); err != nil {
			return startAt{}, fmt.Errorf("checkpoint of partition %d: %w", ps.part, err)
		}
		ps.wm.Store(ps.win.watermark())
	}
	if !c.has {
		return startAt{}, nil
	}
	return startAt{after: true, seq: c.seq, index: c.index, saved: e.Created(), recreated: c.source != 0 && c.source != r.srcCreated}, nil
}

// restoreWindow loads the window state a head names: a version 1 head's
// own state, or the full state of its chain and the deltas on top.
func (r *run) restoreWindow(ctx context.Context, kv jetstream.KeyValue, ps *partState, c *checkpointData) error {
	if len(c.window) > 0 {
		ps.forceFull.Store(true) // the next checkpoint starts a chain
		return ps.win.restoreState(c.window)
	}
	b, err := r.readBlob(ctx, kv, ps.part, c.chain.base, 0, c.chain.baseChunks)
	if err != nil {
		return err
	}
	if err := ps.win.restoreState(b); err != nil {
		return err
	}
	for i, n := range c.chain.deltas {
		b, err := r.readBlob(ctx, kv, ps.part, c.chain.base, i+1, n)
		if err != nil {
			return err
		}
		if err := ps.win.applyDelta(b); err != nil {
			return fmt.Errorf("delta %d: %w", i+1, err)
		}
	}
	return nil
}

// snapshot begins a partition's checkpoint: its positions and counters,
// the sinks' epochs that hold the rows emitted so far (ended here), and a
// capture of its window state (c.capture once finishCapture is called; on
// the worker, in slices, see state.go).
func (r *run) snapshot(ps *partState) (*checkpointData, map[string]uint64) {
	start := time.Now()
	defer func() { r.m.metrics.stage.WithLabelValues(r.job, "snapshot").Observe(time.Since(start).Seconds()) }()
	c := &checkpointData{print: r.print, source: r.srcCreated, has: ps.has, seq: ps.seq, index: ps.index, offset: ps.offset,
		in: ps.in.Load(), processed: ps.processed.Load(), filtered: ps.filtered.Load(), dead: ps.dead.Load(), late: ps.late.Load(),
		emitted: ps.emitted.Load(), rowsWritten: r.rowsWritten.Load()}
	if ps.win != nil {
		// Only a copy of the state is taken on the worker; it is
		// encoded later, off the worker (encode).
		c.full = ps.chainBase.Load() == 0 || ps.forceFull.Swap(false) || ps.chainDeltaBytes.Load() >= ps.chainBaseBytes.Load() || ps.chainDeltas.Load() >= maxDeltas
		ps.win.beginCapture(c.full)
	}
	eps := map[string]uint64{"\x00dlq": r.dlq.barrier()}
	for name, s := range r.sinks {
		eps[name] = s.barrier()
	}
	ps.dirty.Store(false)
	return c, eps
}

// encode encodes a checkpoint's captured window state into its blob and
// extends the partition's chain with it. The checkpoints of a partition
// are encoded in the order they were captured, by one goroutine at a time.
//
// The state is encoded into buf's array when it has room (the previous
// checkpoint's, which the engine no longer holds): grown from empty, the
// encodings were a fortieth of the pipeline's allocation.
func (r *run) encode(ps *partState, c *checkpointData, buf []byte) {
	if c.capture == nil {
		return
	}
	ch := &ps.chain
	size := r.chunkSize()
	if c.full {
		c.blob = c.capture.encodeState(buf[:0])
		*ch = stateChain{base: ch.base + 1, baseChunks: chunks(len(c.blob), size), baseBytes: len(c.blob)}
	} else {
		c.blob = c.capture.appendDelta(buf[:0])
		ch.deltas = append(ch.deltas, chunks(len(c.blob), size))
		ch.deltaBytes += len(c.blob)
	}
	c.capture = nil
	c.chain = *ch
	c.chain.deltas = slices.Clone(ch.deltas)
	ps.publishChain()
}

// publishChain makes the chain's sizes readable by the worker.
func (ps *partState) publishChain() {
	ch := &ps.chain
	ps.chainBase.Store(ch.base)
	ps.chainBaseBytes.Store(int64(ch.baseBytes))
	ps.chainDeltaBytes.Store(int64(ch.deltaBytes))
	ps.chainDeltas.Store(int64(len(ch.deltas)))
}

// commit waits until the rows of the epochs are durable, then writes the
// checkpoint.
func (r *run) commit(ctx context.Context, ps *partState, c *checkpointData, eps map[string]uint64) error {
	start := time.Now()
	for name, e := range eps {
		var err error
		if name == "\x00dlq" {
			err = r.dlq.wait(ctx, e)
		} else {
			err = r.sinks[name].wait(ctx, e)
		}
		if err != nil {
			return err
		}
	}
	kv, err := r.m.state(ctx)
	if err != nil {
		return err
	}
	if len(c.blob) > 0 {
		delta := 0
		if !c.full {
			delta = len(c.chain.deltas)
		}
		if err := r.writeBlob(ctx, kv, ps.part, c.chain.base, delta, c.blob); err != nil {
			return err
		}
	}
	if _, err := kv.Put(ctx, r.stateKey(ps.part), c.encode()); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	kind := "delta"
	if c.full {
		kind = "full"
	}
	r.m.metrics.stateBytes.WithLabelValues(r.job, kind).Add(float64(len(c.blob)))
	r.m.metrics.stage.WithLabelValues(r.job, "checkpoint").Observe(time.Since(start).Seconds())
	return nil
}

func (r *run) checkpointNow(ctx context.Context, ps *partState, pr *processor) error {
	if !ps.dirty.Load() {
		return nil
	}
	c, eps := r.snapshot(ps)
	if ps.win != nil {
		c.capture = ps.win.finishCapture()
	}
	r.encode(ps, c, nil)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return r.commit(tctx, ps, c, eps)
}

// checkpointer commits a worker's checkpoints in the background, one at a
// time: while one waits for the sinks, the worker goes on. A partition has
// one checkpoint outstanding at most (partState.ckBusy): one due while the
// previous is in flight is skipped (the next tick takes it).
//
// The worker begins a checkpoint (snapshot) and copies its window state in
// slices between its records (captures); the checkpointer receives it once
// the copy is complete.
type checkpointer struct {
	r *run
	// blob is the array the last checkpoint's state was encoded into,
	// for the next one (the checkpointer's goroutine's).
	blob     []byte
	ch       chan ckptJob
	done     chan struct{}
	once     sync.Once
	copying  []ckptJob // captures in progress, the worker's
	copyTime prometheus.Observer
}

type ckptJob struct {
	ps  *partState
	c   *checkpointData
	eps map[string]uint64
}

func newCheckpointer(r *run, parts int) *checkpointer {
	ck := &checkpointer{r: r, ch: make(chan ckptJob, parts), done: make(chan struct{}),
		copyTime: r.m.metrics.stage.WithLabelValues(r.job, "snapshot_copy")}
	go func() {
		defer close(ck.done)
		broken := map[int]bool{} // partitions whose last checkpoint failed
		for j := range ck.ch {
			ck.commit(j, broken)
			j.ps.ckBusy.Store(false)
		}
	}()
	return ck
}

func (ck *checkpointer) commit(j ckptJob, broken map[int]bool) {
	r := ck.r
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if broken[j.ps.part] && !j.c.full {
		// A delta on top of one that was not stored: useless.
		// forceFull is set, so a full state follows.
		j.ps.dirty.Store(true)
		return
	}
	r.encode(j.ps, j.c, ck.blob)
	err := r.commit(ctx, j.ps, j.c, j.eps)
	state := len(j.c.blob) > 0
	// The commit has written the encoding (or given up): its array is
	// the next one's.
	if cap(j.c.blob) <= maxKeptBlob {
		ck.blob, j.c.blob = j.c.blob[:0], nil
	}
	if err != nil {
		r.logger.Warn("checkpoint failed", "partition", j.ps.part, "err", err)
		j.ps.dirty.Store(true)
		if state {
			broken[j.ps.part] = true
			j.ps.forceFull.Store(true)
		}
	} else if j.c.full {
		broken[j.ps.part] = false
	}
}

// maxKeptBlob is the largest state encoding whose array is kept for the
// next checkpoint: a large state's is left to the collector rather than
// held between checkpoints.
const maxKeptBlob = 16 << 20

// submit begins a checkpoint of the partition, unless one is outstanding.
// Its window state is copied by step (or at once, when it has none to
// copy) and then handed to the background.
func (ck *checkpointer) submit(ps *partState, _ *processor) {
	if ps.ckBusy.Load() {
		return
	}
	ps.ckBusy.Store(true)
	c, eps := ck.r.snapshot(ps)
	j := ckptJob{ps: ps, c: c, eps: eps}
	ck.copying = append(ck.copying, j)
	ck.step(0)
}

// step copies up to n keys of each capture in progress and hands over the
// complete ones; it reports whether captures remain.
func (ck *checkpointer) step(n int) bool {
	if len(ck.copying) == 0 {
		return false
	}
	start := time.Now()
	left := ck.copying[:0]
	for _, j := range ck.copying {
		if j.ps.win != nil && !j.ps.win.captureStep(n) {
			left = append(left, j)
			continue
		}
		if j.ps.win != nil {
			j.c.capture = j.ps.win.finishCapture()
		}
		ck.ch <- j // never blocks: one job per partition at most
	}
	clear(ck.copying[len(left):])
	ck.copying = left
	if n > 0 {
		ck.copyTime.Observe(time.Since(start).Seconds())
	}
	return len(ck.copying) > 0
}

// Slices of a capture's copy (keys) the worker takes between its records:
// after each batch, and while it has none.
const (
	copyPerBatch = 32
	copyIdle     = 64
)

// stop hands over the captures in progress and waits for every checkpoint
// to be committed; it is idempotent.
func (ck *checkpointer) stop() {
	ck.once.Do(func() {
		ck.step(math.MaxInt)
		close(ck.ch)
	})
	<-ck.done
}
