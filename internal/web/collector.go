package web

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/stream"
)

// Bounds of what the dashboard keeps in memory.
const (
	maxDecisions     = 200    // each of the applied and the refused decisions
	maxLatencies     = 20_000 // applied decisions in the latency window
	maxTracked       = 5_000  // products with a series and an activity count
	maxSeriesPoints  = 120    // per product
	maxActivityTimes = 64     // per product, for the activity count
	maxSeen          = 20_000 // decision ids remembered to drop redeliveries
	latencyWindow    = time.Minute
	activityWindow   = 5 * time.Minute
	statusEvery      = time.Second
	retryEvery       = time.Second
)

// point is one decision in a product's series.
type point struct {
	At     int64 // Unix milliseconds
	Price  float64
	Demand float64
}

// productState is what the dashboard remembers of a recently active
// product. The tracked products form a list, most recently active first,
// so that the least recently active is forgotten in constant time.
type productState struct {
	id         string
	prev, next *productState
	lastAt     int64   // Unix nanoseconds of its newest decision
	times      []int64 // decision times (Unix ns), newest last; see newest
	series     []point // newest last; see newest
	lastNew    float64
	lastAct    string
	lastWhy    string
	changedAt  time.Time
	// demandName is the features attribute the series' demand is.
	demandName string
}

func (p *productState) activity(now time.Time) int {
	n := 0
	for _, t := range newest(p.times, maxActivityTimes) {
		if now.UnixNano()-t <= int64(activityWindow) {
			n++
		}
	}
	return n
}

// keep appends v to s and, once s holds 2n values, keeps its newest n: the
// values are moved once per n appends rather than on every one. Readers
// take the newest n (see newest).
func keep[T any](s []T, v T, n int) []T {
	if len(s) >= 2*n {
		k := copy(s, s[len(s)-n+1:])
		clear(s[k:])
		s = s[:k]
	}
	return append(s, v)
}

// newest returns the newest n values of s.
func newest[T any](s []T, n int) []T { return s[max(0, len(s)-n):] }

// rate turns samples of a growing counter into a per-second rate over the
// last few seconds.
type rate struct {
	samples []rateSample
}

type rateSample struct {
	at time.Time
	n  uint64
}

const rateSpan = 2 * time.Second

func (r *rate) add(at time.Time, n uint64) {
	r.samples = append(r.samples, rateSample{at, n})
	i := 0
	for i < len(r.samples)-2 && at.Sub(r.samples[i+1].at) >= rateSpan {
		i++
	}
	r.samples = r.samples[i:]
}

func (r *rate) perSecond() float64 {
	if len(r.samples) < 2 {
		return 0
	}
	a, b := r.samples[0], r.samples[len(r.samples)-1]
	dt := b.at.Sub(a.at).Seconds()
	if dt <= 0 || b.n < a.n {
		return 0
	}
	return float64(b.n-a.n) / dt
}

// decision is the part of a [pricing.DecisionRecord] the dashboard shows.
// Its features, most of a record's bytes, stay undecoded until one is
// looked up: every decision the pipeline makes passes here.
type decision struct {
	DecisionID    string            `json:"decision_id"`
	ProductID     string            `json:"product_id"`
	Action        string            `json:"action"`
	Reason        string            `json:"reason"`
	OldPrice      float64           `json:"old_price"`
	NewPrice      float64           `json:"new_price"`
	ExpectedUnits float64           `json:"expected_units"`
	Model         string            `json:"model"`
	DecidedAt     time.Time         `json:"decided_at"`
	E2EMillis     float64           `json:"e2e_latency_ms"`
	Features      gojson.RawMessage `json:"features"`

	// demand is the charted demand, named demandName, when demandKnown
	// (see decodeDecisionQuick and findDemand).
	demand      float64
	demandName  string
	demandKnown bool
}

// seen remembers the last maxSeen decisions taken in, by a hash of their
// id and product, to drop redeliveries: the trigger delivers at least once
// and the pricing function then records again. (Two decisions whose
// hashes collide, one chance in 2⁶⁴, would count as one.)
type seen struct {
	seed maphash.Seed
	set  map[uint64]struct{}
	ring []uint64 // the hashes in set, oldest at next once full
	next int
}

// add reports whether the decision is new, and remembers it.
func (s *seen) add(r *decision) bool {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(r.DecisionID)
	h.WriteByte(0)
	h.WriteString(r.ProductID)
	k := h.Sum64()
	if _, dup := s.set[k]; dup {
		return false
	}
	s.set[k] = struct{}{}
	if len(s.ring) < maxSeen {
		s.ring = append(s.ring, k)
		return true
	}
	delete(s.set, s.ring[s.next])
	s.ring[s.next] = k
	s.next = (s.next + 1) % maxSeen
	return true
}

// add takes one decision into the shared state, as if just delivered.
func (d *Dashboard) add(r *decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.takeLocked(r, time.Now()) {
		d.mu.live++
	}
}

// takeLocked takes one decision into the shared state, unless it is a
// redelivery, and reports whether it did; now is when it is taken in (the
// time of its latency sample and its product's activity).
func (d *Dashboard) takeLocked(r *decision, now time.Time) bool {
	if r.DecisionID != "" && !d.mu.seen.add(r) {
		return false
	}
	d.mu.counts[r.Action]++
	d.mu.total++
	at := r.DecidedAt
	if at.IsZero() {
		at = now
	}
	if r.Action != "kept" {
		// Applied and refused decisions are kept apart, so that a flood
		// of refusals does not push the price changes out of the log.
		log := &d.mu.refused
		if r.Action == "applied" {
			log = &d.mu.applied
		}
		*log = keep(*log, Decision{
			At: at, ProductID: r.ProductID, Action: r.Action, Reason: r.Reason,
			OldPrice: r.OldPrice, NewPrice: r.NewPrice, E2EMillis: r.E2EMillis, Model: r.Model,
		}, maxDecisions)
	}
	if r.Action == "applied" && r.E2EMillis > 0 {
		d.mu.latencies = keep(d.mu.latencies, latencySample{at: now, ms: r.E2EMillis}, maxLatencies)
	}
	p := d.mu.products[r.ProductID]
	if p == nil {
		if len(d.mu.products) >= maxTracked {
			d.evictLocked()
		}
		p = &productState{id: r.ProductID}
		d.mu.products[r.ProductID] = p
	} else {
		d.unlinkLocked(p)
	}
	// To the front of the list: the most recently active.
	p.next = d.mu.newest
	if p.next != nil {
		p.next.prev = p
	} else {
		d.mu.oldest = p
	}
	d.mu.newest = p
	p.lastAt = now.UnixNano()
	p.times = keep(p.times, p.lastAt, maxActivityTimes)
	price := r.OldPrice
	if r.Action == "applied" {
		price = r.NewPrice
		p.changedAt = at
	}
	p.lastNew, p.lastAct, p.lastWhy = r.NewPrice, r.Action, r.Reason
	// Demand: the configured feature, else the views of the window, else
	// what the model expected to sell.
	r.findDemand(d.demandNames)
	demand := r.demand
	p.demandName = r.demandName
	ms := at.UnixMilli()
	if r.Action == "applied" && len(p.series) == 0 && r.OldPrice > 0 {
		// The first change of a product seen: start from the old price.
		p.series = append(p.series, point{At: ms, Price: r.OldPrice, Demand: demand})
	}
	if price > 0 {
		p.series = keep(p.series, point{At: ms, Price: price, Demand: demand}, maxSeriesPoints)
	}
	return true
}

// unlinkLocked takes p out of the list of tracked products.
func (d *Dashboard) unlinkLocked(p *productState) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		d.mu.newest = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		d.mu.oldest = p.prev
	}
	p.prev, p.next = nil, nil
}

// evictLocked forgets the tracked product least recently active.
func (d *Dashboard) evictLocked() {
	if p := d.mu.oldest; p != nil {
		d.unlinkLocked(p)
		delete(d.mu.products, p.id)
	}
}

type latencySample struct {
	at time.Time
	ms float64
}

// follow subscribes to every partition of the price-changes stream, once it
// exists, and feeds its decisions in until ctx ends: first the tail of
// each partition (see backfillFrom), then what arrives. It closes ready
// once it has read the tail of every partition, or found that the stream
// does not exist yet, or ctx ended.
func (d *Dashboard) follow(ctx context.Context, ready chan struct{}) {
	var once sync.Once
	caughtUp := func() {
		once.Do(func() {
			// The percentiles of what was read back, before the next sample.
			d.mu.Lock()
			d.mu.latency = d.latencyLocked(time.Now())
			d.mu.Unlock()
			close(ready)
		})
	}
	defer caughtUp()
	var s *stream.Stream
	for s == nil {
		var err error
		if s, err = d.deps.Streams.Open(ctx, d.cfg.Changes); err != nil {
			if errors.Is(err, stream.ErrNotFound) {
				caughtUp() // nothing to read back
			} else if ctx.Err() == nil {
				d.logger.Warn("dashboard: price changes stream not readable; retrying", "stream", d.cfg.Changes, "err", err)
			}
			if !sleep(ctx, retryEvery) {
				return
			}
		}
	}
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(s.Partitions()))
	for part := range s.Partitions() {
		wg.Go(func() {
			d.followPartition(ctx, s, part, func() {
				if left.Add(-1) == 0 {
					caughtUp()
				}
			})
		})
	}
	wg.Wait()
}

// followPartition reads a partition from its tail on, and calls caughtUp
// once when it has read what was stored when it began.
func (d *Dashboard) followPartition(ctx context.Context, s *stream.Stream, part int, caughtUp func()) {
	limit := uint64(max(minBackfill, maxBackfill/s.Partitions()))
	from, tip, err := d.backfillFrom(ctx, s, part, limit)
	for err != nil {
		if ctx.Err() != nil {
			return
		}
		d.logger.Warn("dashboard: resolve price changes position; retrying", "stream", s.Name(), "partition", part, "err", err)
		if !sleep(ctx, retryEvery) {
			return
		}
		from, tip, err = d.backfillFrom(ctx, s, part, limit)
	}
	backfill := from.Less(tip.Next)
	if !backfill {
		caughtUp()
	}
	for ctx.Err() == nil {
		sub, err := s.Subscribe(ctx, part, from)
		if err != nil {
			d.logger.Warn("dashboard: subscribe to price changes; retrying", "stream", s.Name(), "partition", part, "err", err)
			if !sleep(ctx, retryEvery) {
				return
			}
			continue
		}
		for {
			recs, err := sub.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					d.logger.Warn("dashboard: read price changes; resubscribing", "stream", s.Name(), "partition", part, "err", err)
				}
				break
			}
			if len(recs) == 0 {
				continue
			}
			d.ingestFrom(recs, !backfill)
			last := recs[len(recs)-1].Position
			from = last.Next()
			if backfill && last.Seq+1 >= tip.Next.Seq {
				backfill = false
				caughtUp()
			}
		}
		sub.Stop()
	}
}

// Bounds of the backfill: at most maxBackfill decisions over all the
// partitions (the latency window holds at most maxLatencies), but at least
// minBackfill from each.
const (
	maxBackfill = 40_000
	minBackfill = 1_000
)

// backfillFrom returns where to start reading a partition, and its tip: the
// first record of the last Config.Backfill, or, where that leaves more than
// limit records, a later one that leaves about limit (assuming the records
// arrived at an even rate).
func (d *Dashboard) backfillFrom(ctx context.Context, s *stream.Stream, part int, limit uint64) (stream.Position, stream.Tip, error) {
	tip, err := s.Tip(ctx, part)
	if err != nil || tip.Records == 0 {
		return tip.Next, tip, err
	}
	now := time.Now()
	from, err := s.Resolve(ctx, part, stream.Start{Kind: stream.AtTimestamp, Time: now.Add(-d.cfg.Backfill)})
	if err != nil || !from.Less(tip.Next) {
		return from, tip, err
	}
	first, err := s.Read(ctx, part, from, stream.ReadOptions{MaxRecords: 1})
	if err != nil || len(first.Records) == 0 || first.Records[0].Offset >= tip.Records {
		return from, tip, err
	}
	n := tip.Records - first.Records[0].Offset
	if n <= limit {
		return from, tip, nil
	}
	span := tip.LastArrival.Sub(first.Records[0].Arrival)
	from, err = s.Resolve(ctx, part, stream.Start{Kind: stream.AtTimestamp, Time: tip.LastArrival.Add(-time.Duration(float64(span) * float64(limit) / float64(n)))})
	return from, tip, err
}

// ingest decodes records of the price-changes stream as they arrive and
// takes the decisions among them in.
func (d *Dashboard) ingest(recs []stream.Record) { d.ingestFrom(recs, true) }

// ingestFrom decodes records of the price-changes stream and takes the
// decisions among them in: as they arrive (live) or read back from the
// tail, when their decision time stands for when they were taken in. The
// records are decoded before the lock is taken, and it is taken once for
// them all.
func (d *Dashboard) ingestFrom(recs []stream.Record, live bool) {
	d.read.Add(uint64(len(recs)))
	decs := make([]decision, len(recs))
	n := 0
	for _, rec := range recs {
		if !decodeDecision(rec.Data, &decs[n], d.demandNames) {
			decs[n] = decision{}
			continue // not a decision; nothing to show
		}
		n++
	}
	if n == 0 {
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range decs[:n] {
		at := now
		if !live && !decs[i].DecidedAt.IsZero() && decs[i].DecidedAt.Before(now) {
			at = decs[i].DecidedAt
		}
		if d.takeLocked(&decs[i], at) && live {
			d.mu.live++
		}
	}
}

// sample measures rates every interval and the status of jobs and
// triggers every statusEvery, until ctx ends.
func (d *Dashboard) sample(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	var events *stream.Stream
	var lastStatus time.Time
	for {
		now := time.Now()
		if events == nil {
			events, _ = d.deps.Streams.Open(ctx, d.cfg.EventsStream)
		}
		if events != nil {
			var total uint64
			ok := true
			for part := range events.Partitions() {
				tip, err := events.Tip(ctx, part)
				if err != nil {
					ok = false
					break
				}
				total += tip.Records
			}
			if ok {
				d.mu.Lock()
				d.mu.eventsTotal = total
				d.mu.events.add(now, total)
				d.mu.Unlock()
			}
		}
		d.mu.Lock()
		d.mu.decided.add(now, d.mu.live)
		d.mu.latency = d.latencyLocked(now)
		d.mu.Unlock()
		if now.Sub(lastStatus) >= statusEvery {
			lastStatus = now
			jobs, triggers := d.statuses(ctx)
			d.mu.Lock()
			d.mu.jobs, d.mu.triggers = jobs, triggers
			d.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// latencyLocked computes the percentiles of the applied decisions of the
// last latencyWindow.
func (d *Dashboard) latencyLocked(now time.Time) Latency {
	i := sort.Search(len(d.mu.latencies), func(i int) bool { return now.Sub(d.mu.latencies[i].at) <= latencyWindow })
	d.mu.latencies = slices.Delete(d.mu.latencies, 0, i)
	window := newest(d.mu.latencies, maxLatencies)
	l := Latency{WindowSeconds: latencyWindow.Seconds(), Count: len(window)}
	if l.Count == 0 {
		return l
	}
	ms := make([]float64, len(window))
	for i, s := range window {
		ms[i] = s.ms
	}
	slices.Sort(ms)
	q := func(p float64) float64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
	l.P50, l.P90, l.P99, l.Max = q(0.5), q(0.9), q(0.99), ms[len(ms)-1]
	return l
}

// statuses reads the lag of every job and trigger.
func (d *Dashboard) statuses(ctx context.Context) ([]JobLag, []TriggerLag) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	jobs := []JobLag{}
	if d.deps.Jobs != nil {
		names, _ := d.deps.Jobs.List(ctx)
		for _, n := range names {
			st, err := d.deps.Jobs.Status(ctx, n)
			if err != nil {
				continue
			}
			jobs = append(jobs, JobLag{Name: n, State: st.State, Error: st.Error, LagRecords: st.LagRecords, RecordsIn: st.RecordsIn, DeadLettered: st.DeadLettered, Watermark: st.Watermark})
		}
	}
	triggers := []TriggerLag{}
	if d.deps.Triggers != nil {
		defs, _ := d.deps.Triggers.List(ctx)
		for _, def := range defs {
			st, err := d.deps.Triggers.Describe(ctx, def.Spec.Name)
			if err != nil {
				continue
			}
			tl := TriggerLag{Name: def.Spec.Name, Source: def.Spec.Source, State: st.State, Error: st.Error}
			for _, p := range st.Partitions {
				tl.LagRecords += p.LagRecords
				tl.LagMillis = max(tl.LagMillis, p.LagMillis)
				tl.IteratorAgeMillis = max(tl.IteratorAgeMillis, p.IteratorAgeMillis)
				tl.Processed += p.Processed
				tl.Errors += p.Errors
			}
			triggers = append(triggers, tl)
		}
	}
	return jobs, triggers
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
