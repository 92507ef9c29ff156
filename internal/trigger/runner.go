package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// runner delivers one partition of one trigger: it reads from the
// checkpoint, routes the records by key hash to up to Parallelism lanes,
// each of which builds its own batches, filters, invokes the function and
// handles failures without waiting for the others, and commits
// checkpoints at the low-water mark of the records done (see lane.go).
//
// Goroutines: run is called by its owner (the manager, or a test) and
// starts a committer and, per reader it opens, a dispatcher (which reads)
// and one goroutine per lane. run waits for all of them before it
// returns.
type runner struct {
	name    string
	spec    *Spec
	src     Source
	part    int
	fn      Function
	filters Filters
	dest    sink // nil: failed records are logged and counted
	cps     *checkpoints
	cfg     Config
	tm      *triggerMetrics
	age     prometheus.Gauge
	logger  *slog.Logger
	commit  *committer
	gen     int64 // the definition's creation time: checkpoints of an older trigger of the same name are ignored
	// srcCreated is the source's creation time (Unix ns; 0 when it does
	// not say), which checkpoints keep.
	srcCreated int64
	now        func() time.Time // the clock of record ages (tests move it)

	// The last record done with (the checkpoint): set by the lanes under
	// their window's lock, read by the run goroutine between readers.
	done *Checkpoint

	status partitionStatus
}

// partitionStatus is what describe shows of a running partition.
type partitionStatus struct {
	read        atomic.Int64 // records received from the source
	done        atomic.Int64 // records done with (processed, filtered, failed)
	processed   atomic.Int64
	filtered    atomic.Int64
	failed      atomic.Int64 // sent to the destination or dropped
	invocations atomic.Int64
	errors      atomic.Int64
	lastAge     atomic.Int64 // iterator age, nanoseconds
	checkpoint  atomic.Pointer[Checkpoint]

	mu struct {
		sync.Mutex
		state string
		err   string
		since time.Time
	}
}

func (s *partitionStatus) set(state string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.state != state {
		s.mu.since = time.Now().UTC()
	}
	s.mu.state = state
	s.mu.err = ""
	if err != nil {
		s.mu.err = err.Error()
	}
}

func newRunner(def *Definition, src Source, part int, fn Function, filters Filters, dest sink, cps *checkpoints, cfg Config, tm *triggerMetrics, logger *slog.Logger, now func() time.Time) *runner {
	spec := def.Spec
	r := &runner{
		name: spec.Name, spec: spec, src: src, part: part, fn: fn, filters: filters, dest: dest, cps: cps, cfg: cfg,
		tm: tm, age: tm.iteratorAge(part), logger: logger.With("partition", part), gen: def.Created.UnixNano(), now: now,
	}
	if c, ok := src.(Created); ok {
		r.srcCreated = c.Created().UnixNano()
	}
	name := spec.Name
	var sync func(context.Context) error
	if s, ok := fn.(Syncer); ok {
		sync = s.Sync
	}
	r.commit = newCommitter(cps, name, part, cfg.CommitInterval, sync, func(err error) {
		r.logger.Warn("checkpoint commit failed; retrying", "err", err)
	})
	r.status.set("starting", nil)
	return r
}

// run delivers the partition until ctx is done, reopening the source after
// errors with backoff. It commits the last checkpoint before it returns,
// and returns nil.
func (r *runner) run(ctx context.Context) {
	// Start from the committed checkpoint: another process may have run
	// the partition since this one last did.
	r.done = nil
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.commit.run(cctx)
	}()
	defer func() {
		cancel()
		wg.Wait()
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer fcancel()
		if err := r.commit.flush(fctx); err != nil {
			r.logger.Warn("final checkpoint commit failed; records after the last commit will be delivered again", "err", err)
		}
		r.status.set("stopped", nil)
	}()
	failures := 0
	rereadAt := int64(-1) // records done at the last reread
	for {
		before := r.status.done.Load()
		err := r.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrReread) && r.status.done.Load() != rereadAt {
			// The function reads more of the images than the records had:
			// read them again at once, unless it asked so before and
			// nothing was done since.
			rereadAt = r.status.done.Load()
			r.tm.rereads.Inc()
			r.logger.Info("reading records again with the function's image attributes")
			continue
		}
		if r.status.done.Load() > before {
			failures = 0
		}
		failures++
		r.status.set("error", err)
		d := backoff(failures, r.cfg.RetryBaseDelay, r.cfg.RetryMaxDelay)
		r.logger.Warn("trigger partition stopped; restarting", "err", err, "in", d)
		if sleep(ctx, d) != nil {
			return
		}
	}
}

// runOnce opens the source and delivers until an error or ctx is done.
func (r *runner) runOnce(ctx context.Context) error {
	from := From{Start: r.spec.StartingPosition}
	if r.spec.StartingPositionTimestamp != nil {
		from.Time = *r.spec.StartingPositionTimestamp
	}
	if r.done == nil {
		cp, ok, err := r.cps.get(ctx, r.name, r.part)
		if err != nil {
			return err
		}
		if ok && cp.Source == r.spec.Source && cp.Generation == r.gen {
			r.done = &cp
			r.status.checkpoint.Store(&cp)
		}
	}
	if r.done != nil {
		from.After, from.Saved, from.SourceCreated = r.done.SequenceNumber, r.done.Committed, r.done.SourceCreated
		if from.Saved.IsZero() {
			// Done with in this process but not committed yet: the last
			// record's arrival is as late as can be known.
			from.Saved = r.done.Arrival
		}
		from.PastEnd = func(recreated bool, at string) {
			r.tm.pastEnd.Inc()
			msg := "checkpoint past the end of the source (it lost records it had not synced): reading what it stored after the checkpoint"
			if recreated {
				msg = "checkpoint of a source that was deleted and created again since: reading what it stored after the checkpoint"
			}
			r.logger.Warn(msg, "checkpoint", r.done.SequenceNumber, "from", at)
		}
	}
	rd, err := r.src.Open(ctx, r.part, from)
	if err != nil {
		return fmt.Errorf("open partition %d: %w", r.part, err)
	}
	rctx, cancel := context.WithCancel(ctx)
	// Stopping is two-phase: when ctx is done the dispatcher stops reading
	// and closes the lanes' queues; the lanes deliver what they hold and
	// have DrainTimeout to finish (and be committed) before their
	// invocations are cancelled too.
	hard, hardCancel := drainContext(ctx, r.cfg.DrainTimeout)
	defer hardCancel()
	w, cp := newWindow(windowRecords(r.spec)), r.done
	lanes := make([]chan []laneRec, max(1, r.spec.Parallelism))
	for i := range lanes {
		lanes[i] = make(chan []laneRec, r.cfg.ReadAhead)
	}
	var wg sync.WaitGroup
	var readErr error
	wg.Add(1 + len(lanes))
	go func() {
		defer wg.Done()
		pprof.Do(rctx, pprof.Labels("role", "dispatch"), func(ctx context.Context) {
			readErr = r.dispatch(ctx, rd, cp, w, lanes)
		})
		for _, q := range lanes {
			close(q)
		}
	}()
	var reread atomic.Bool
	var laneErr struct {
		sync.Mutex
		err error
	}
	for i, q := range lanes {
		go func() {
			defer wg.Done()
			pprof.Do(hard, pprof.Labels("role", "lane", "lane", strconv.Itoa(i)), func(ctx context.Context) {
				err := r.lane(ctx, q, w)
				switch {
				case errors.Is(err, ErrReread):
					reread.Store(true)
				case errors.Is(err, errComplete):
					laneErr.Lock()
					if laneErr.err == nil {
						laneErr.err = err
					}
					laneErr.Unlock()
				default:
					return
				}
				cancel() // the dispatcher stops reading; the lanes deliver what they hold
			})
		}()
	}
	r.status.set("running", nil)
	wg.Wait()
	cancel()
	rd.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if reread.Load() {
		return ErrReread
	}
	if laneErr.err != nil {
		return laneErr.err
	}
	return readErr
}

// process delivers a lane's batch: filters it, sends over-age records to
// the destination, and invokes the function. It returns the last
// invocation's [Response.Complete], which the lane calls before the batch
// is done. It returns an error only when ctx is done before the batch is,
// the function returned [ErrReread] for it, or a completion failed.
func (r *runner) process(ctx context.Context, batch []*Record) (complete func(context.Context) error, err error) {
	now := r.now()
	deliver := batch
	if len(r.filters) > 0 || r.spec.MaxRecordAge > 0 {
		deliver = make([]*Record, 0, len(batch))
		var aged []*Record
		for _, rec := range batch {
			if len(r.filters) > 0 && !r.filters.Match(r.view(rec)) {
				r.status.filtered.Add(1)
				r.tm.filtered.Inc()
				continue
			}
			if r.tooOld(rec, now) {
				aged = append(aged, rec)
				continue
			}
			deliver = append(deliver, rec)
		}
		if len(aged) > 0 {
			if err := r.fail(ctx, aged, errTooOld(r.spec.MaxRecordAge.D()), 0, ConditionRecordAgeExceeded); err != nil {
				return nil, err
			}
		}
	}
	for _, rec := range deliver {
		r.tm.delivery.Observe(now.Sub(rec.Arrival).Seconds())
	}
	if len(deliver) > 0 {
		if complete, err = r.deliver(ctx, deliver); err != nil {
			return nil, err
		}
	}
	last := batch[len(batch)-1]
	age := time.Since(last.Arrival)
	r.status.lastAge.Store(int64(age))
	r.age.Set(age.Seconds())
	return complete, nil
}

// errComplete wraps the error of a [Response.Complete].
var errComplete = errors.New("trigger: completing an invocation")

// awaitComplete calls an invocation's completion, if any, now, and counts
// it when it fails.
func (r *runner) awaitComplete(ctx context.Context, complete func(context.Context) error) error {
	if complete == nil {
		return nil
	}
	if err := complete(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.tm.completions.Inc()
		return fmt.Errorf("%w: %w", errComplete, err)
	}
	return nil
}

// deliver invokes the function with recs (records of one lane, in order)
// until they succeed or fail past the policy: partial-batch responses
// retry from the lowest failed record; with bisect a failed batch of more
// than one record is split in two and the halves delivered in order (no
// retry is spent on splitting, as in Lambda); a record or batch that
// fails MaxRetryAttempts+1 times goes to the destination. It returns the
// completion of the invocation that succeeded last ([Response.Complete]),
// for the lane to call; the others it calls itself. It returns an error
// only when ctx is done first, the function returned [ErrReread] (the
// records are left not done, to be read again), or a completion of the
// first half of a bisected batch failed.
func (r *runner) deliver(ctx context.Context, recs []*Record) (func(context.Context) error, error) {
	attempts := 0
	for len(recs) > 0 {
		if attempts > 0 && r.spec.MaxRecordAge > 0 {
			var err error
			if recs, err = r.dropAged(ctx, recs); err != nil || len(recs) == 0 {
				return nil, err
			}
		}
		resp, err := r.invoke(ctx, recs)
		attempts++
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil && errors.Is(err, ErrReread) {
			return nil, ErrReread
		}
		if err == nil && r.spec.ReportBatchItemFailures && len(resp.BatchItemFailures) > 0 {
			// What the function did for the records before the failure
			// must be complete before they count as done and the rest is
			// delivered again after it.
			if err = r.awaitComplete(ctx, resp.Complete); err != nil && ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		if err == nil {
			if !r.spec.ReportBatchItemFailures || len(resp.BatchItemFailures) == 0 {
				if resp.Complete == nil {
					r.succeeded(len(recs))
					return nil, nil
				}
				// The records count as processed once their completion
				// returned: one that fails delivers them again.
				n, complete := len(recs), resp.Complete
				return func(ctx context.Context) error {
					if err := complete(ctx); err != nil {
						return err
					}
					r.succeeded(n)
					return nil
				}, nil
			}
			idx, perr := lowestFailure(recs, resp.BatchItemFailures)
			if perr != nil {
				err = perr
			} else {
				r.succeeded(idx)
				recs = recs[idx:]
				err = fmt.Errorf("trigger: function reported %d failed records, the first %s", len(resp.BatchItemFailures), recs[0].SequenceNumber)
			}
		}
		r.tm.errors.Inc()
		r.status.errors.Add(1)
		if r.spec.BisectBatchOnError && len(recs) > 1 {
			r.tm.bisections.Inc()
			h := len(recs) / 2
			complete, err := r.deliver(ctx, recs[:h])
			if err == nil {
				err = r.awaitComplete(ctx, complete)
			}
			if err != nil {
				return nil, err
			}
			return r.deliver(ctx, recs[h:])
		}
		var fe *FunctionError
		if attempts > r.spec.Retries() || (errors.As(err, &fe) && !fe.Retryable) {
			return nil, r.fail(ctx, recs, err, attempts, ConditionRetriesExhausted)
		}
		r.tm.retries.Inc()
		if err := sleep(ctx, backoff(attempts, r.cfg.RetryBaseDelay, r.cfg.RetryMaxDelay)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (r *runner) succeeded(n int) {
	r.status.processed.Add(int64(n))
	r.tm.processed.Add(float64(n))
}

func (r *runner) tooOld(rec *Record, now time.Time) bool {
	return r.spec.MaxRecordAge > 0 && now.Sub(rec.Arrival) > r.spec.MaxRecordAge.D()
}

func errTooOld(d time.Duration) error {
	return fmt.Errorf("trigger: record older than max_record_age %s", d)
}

// dropAged sends the records over max_record_age to the destination and
// returns the rest, in order.
func (r *runner) dropAged(ctx context.Context, recs []*Record) ([]*Record, error) {
	now := r.now()
	if !slices.ContainsFunc(recs, func(rec *Record) bool { return r.tooOld(rec, now) }) {
		return recs, nil
	}
	var keep, aged []*Record
	for _, rec := range recs {
		if r.tooOld(rec, now) {
			aged = append(aged, rec)
		} else {
			keep = append(keep, rec)
		}
	}
	return keep, r.fail(ctx, aged, errTooOld(r.spec.MaxRecordAge.D()), 0, ConditionRecordAgeExceeded)
}

// lowestFailure returns the index in recs of the lowest failed record. An
// identifier that names no record of the batch fails the whole batch, as
// in Lambda.
func lowestFailure(recs []*Record, fails []BatchItemFailure) (int, error) {
	lowest := len(recs)
	for _, f := range fails {
		i := slices.IndexFunc(recs, func(rec *Record) bool { return rec.SequenceNumber == f.ItemIdentifier })
		if i < 0 {
			return 0, fmt.Errorf("trigger: function reported a failed item %q that is not in the batch; the whole batch counts as failed", f.ItemIdentifier)
		}
		lowest = min(lowest, i)
	}
	return lowest, nil
}

// invoke calls the function once, with the function timeout, turning a
// panic into an error.
func (r *runner) invoke(ctx context.Context, recs []*Record) (resp Response, err error) {
	ictx, cancel := context.WithTimeout(ctx, r.spec.FunctionTimeout.D())
	defer cancel()
	b := &Batch{Trigger: r.name, Source: r.spec.Source, Partition: r.part, Records: recs, src: r.src}
	t0 := time.Now()
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.logger.Error("function panicked", "panic", p, "stack", string(debug.Stack()))
				err = fmt.Errorf("trigger: function panicked: %v", p)
			}
		}()
		resp, err = r.fn.Invoke(ictx, b)
	}()
	r.tm.duration.Observe(time.Since(t0).Seconds())
	r.tm.invocations.Inc()
	r.status.invocations.Add(1)
	if err != nil && ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("trigger: function timed out after %s: %w", r.spec.FunctionTimeout.D(), err)
	}
	return resp, err
}

// fail sends records that failed past the policy to the destination,
// retrying the destination until it stores them or ctx is done. Without a
// destination they are logged and counted.
func (r *runner) fail(ctx context.Context, recs []*Record, cause error, attempts int, condition string) error {
	n := len(recs)
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	if r.dest == nil {
		r.tm.m.dropped.WithLabelValues(r.name, condition).Add(float64(n))
		r.status.failed.Add(int64(n))
		r.logger.Warn("records failed past the retry policy and the trigger has no destination: they are skipped",
			"condition", condition, "records", n, "first_seq", recs[0].SequenceNumber, "last_seq", recs[n-1].SequenceNumber, "attempts", attempts, "err", msg)
		return nil
	}
	now := time.Now().UTC()
	frs := make([]FailedRecord, n)
	for i, rec := range recs {
		frs[i] = FailedRecord{
			Trigger: r.name, Condition: condition, Error: msg, Attempts: attempts, Source: r.spec.Source,
			Partition: r.part, SequenceNumber: rec.SequenceNumber, Key: rec.Key, Arrival: rec.Arrival.UTC(), FailedAt: now,
			Record: r.src.AppendRecord(nil, rec),
		}
	}
	for try := 1; ; try++ {
		err := r.dest.Send(ctx, frs)
		if err == nil {
			if try > 1 {
				r.status.set("running", nil) // no longer blocked
			}
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The partition waits here (nothing after these records is done
		// until they are sent): its status says why, as the log does.
		r.status.set("running", fmt.Errorf("destination write failed; retrying: %w", err))
		r.logger.Warn("destination write failed; retrying", "records", n, "err", err)
		if err := sleep(ctx, backoff(try, r.cfg.RetryBaseDelay, r.cfg.RetryMaxDelay)); err != nil {
			return err
		}
	}
	r.tm.m.destination.WithLabelValues(r.name, condition).Add(float64(n))
	r.status.failed.Add(int64(n))
	r.logger.Debug("records sent to the destination", "condition", condition, "records", n, "first_seq", recs[0].SequenceNumber, "err", msg)
	return nil
}

// view returns the record as filter patterns see it, as Lambda filters:
// for a data-stream record {"data": DATA}, with DATA parsed when it is
// JSON and a string otherwise; for a table change the DynamoDB Streams
// record ({"eventName", "dynamodb": {"Keys", "NewImage", ...}, ...}).
func (r *runner) view(rec *Record) map[string]any {
	if rec.Change != nil {
		v, err := decodeJSON(r.src.AppendRecord(nil, rec))
		if m, ok := v.(map[string]any); ok && err == nil {
			return m
		}
		return map[string]any{}
	}
	v, err := decodeJSON(rec.Data)
	if err != nil {
		v = string(rec.Data)
	}
	return map[string]any{"data": v}
}

// drainContext returns a context that is cancelled d after ctx is done
// (or when the returned func is called, which must be), or at once when
// ctx ended because the partition's lease was lost.
func drainContext(ctx context.Context, d time.Duration) (context.Context, func()) {
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var t *time.Timer
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), errLeaseLost) {
			cancel()
			return
		}
		mu.Lock()
		t = time.AfterFunc(d, cancel)
		mu.Unlock()
	})
	return hard, func() {
		stop()
		mu.Lock()
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// backoff returns the wait before retry n (from 1): exponential from base,
// capped at max, with "equal jitter" (half fixed, half random) so that
// retries of many partitions spread out but never shrink to nothing.
func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
