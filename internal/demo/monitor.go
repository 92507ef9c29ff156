package demo

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"golang.org/x/sync/errgroup"

	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
)

// Monitor reads the price-changes stream, as any client may, and keeps
// what the summaries report: decisions by action, the end-to-end latency
// of applied changes, and every applied change checked again, from the
// record alone, against the guardrails it must obey.
//
// It reads through the HTTP API, or, for a pipeline in its own process
// ([Monitor.ReadLocal]), from the engine: the same records without the
// API's framing of each as JSON and a second decoding of it. At 10,000
// events/s the bench's pipeline records about 8,000 decisions a second,
// and reading them over HTTP took about 6% of the process's CPU: load
// that the pipeline it measures then did not get.
type Monitor struct {
	c          *client.Client
	local      *stream.Manager // nil: read through c
	stream     string
	maxStepPct float64

	mu struct {
		sync.Mutex
		applied, kept, refused int64
		violations             int64
		seen                   recentIDs // decision ids (records may repeat)
		e2e                    []float64 // ms, applied changes
		e2eAt                  []int64   // their decision times, Unix ns (0: unknown)
	}
}

// decisionHead is the part of a decision record the monitor reads: the
// features, most of a record's bytes, are not decoded.
type decisionHead struct {
	DecisionID string  `json:"decision_id"`
	Action     string  `json:"action"`
	OldPrice   float64 `json:"old_price"`
	NewPrice   float64 `json:"new_price"`
	MinPrice   float64 `json:"min_price"`
	MaxPrice   float64 `json:"max_price"`
	E2EMillis  float64 `json:"e2e_latency_ms"`
	// DecidedAt is parsed for the applied changes only.
	DecidedAt string `json:"decided_at"`
}

// recentIDs remembers the last maxRecentIDs ids added: a decision is
// recorded again when the trigger redelivers its features row, soon after
// the first, so the monitor's memory stays bounded however long it runs.
type recentIDs struct {
	m    map[string]struct{}
	ring []string
	next int
}

const maxRecentIDs = 1 << 16

// add records id and reports whether it was new.
func (r *recentIDs) add(id string) bool {
	if _, dup := r.m[id]; dup {
		return false
	}
	if r.m == nil {
		r.m = make(map[string]struct{})
	}
	if len(r.ring) < maxRecentIDs {
		r.ring = append(r.ring, id)
	} else {
		delete(r.m, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % maxRecentIDs
	}
	r.m[id] = struct{}{}
	return true
}

// NewMonitor returns a monitor of the stream (default "price_changes");
// maxStepPct is the guardrail's largest step, to check each change by.
func NewMonitor(c *client.Client, stream string, maxStepPct float64) *Monitor {
	if stream == "" {
		stream = "price_changes"
	}
	return &Monitor{c: c, stream: stream, maxStepPct: maxStepPct}
}

// monitor returns a monitor of the pipeline's price_changes, reading the
// engine when the pipeline runs in this process.
func (p *Pipeline) monitor(maxStepPct float64) *Monitor {
	m := NewMonitor(p.Client, "", maxStepPct)
	if p.App != nil {
		m.ReadLocal(p.App.Streams())
	}
	return m
}

// ReadLocal makes the monitor read the stream from sm, the stream manager
// of the pipeline's own process, instead of through the HTTP API. Call it
// before Run.
func (m *Monitor) ReadLocal(sm *stream.Manager) { m.local = sm }

// Run follows every partition of the stream from its start until ctx
// ends. The stream must exist.
func (m *Monitor) Run(ctx context.Context) error {
	var parts int
	var local *stream.Stream
	if m.local != nil {
		st, err := m.local.Open(ctx, m.stream)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		local, parts = st, st.Partitions()
	} else {
		info, err := m.c.DescribeStream(ctx, m.stream)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		parts = len(info.Partitions)
	}
	g, gctx := errgroup.WithContext(ctx)
	for part := range parts {
		if local != nil {
			g.Go(func() error { return m.followLocal(gctx, local, part) })
			continue
		}
		g.Go(func() error { return m.follow(gctx, part) })
	}
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// follow reads one partition from its start until ctx ends; when the
// server closes the tail it resumes after the last record read.
func (m *Monitor) follow(ctx context.Context, part int) error {
	start := "trim_horizon"
	for ctx.Err() == nil {
		err := m.c.Tail(ctx, m.stream, start, part, func(r *client.Record) error {
			start = "after:" + r.SequenceNumber
			var d decisionHead
			if gojson.Unmarshal(r.Data, &d) == nil {
				m.add(&d)
			}
			return nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return nil
}

// followLocal reads one partition of st from its start until ctx ends.
func (m *Monitor) followLocal(ctx context.Context, st *stream.Stream, part int) error {
	sub, err := st.Subscribe(ctx, part, stream.Position{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer sub.Stop()
	var heads []decisionHead
	for {
		recs, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		heads = heads[:0]
		for i := range recs {
			var d decisionHead
			if gojson.Unmarshal(recs[i].Data, &d) == nil {
				heads = append(heads, d)
			}
		}
		m.mu.Lock()
		for i := range heads {
			m.addLocked(&heads[i])
		}
		m.mu.Unlock()
	}
}

func (m *Monitor) add(d *decisionHead) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addLocked(d)
}

// addLocked counts a decision; m.mu is held.
func (m *Monitor) addLocked(d *decisionHead) {
	if !m.mu.seen.add(d.DecisionID) {
		return
	}
	switch d.Action {
	case "applied":
		m.mu.applied++
		if d.E2EMillis > 0 {
			m.mu.e2e = append(m.mu.e2e, d.E2EMillis)
			var at int64
			if t, err := time.Parse(time.RFC3339Nano, d.DecidedAt); err == nil {
				at = t.UnixNano()
			}
			m.mu.e2eAt = append(m.mu.e2eAt, at)
		}
		if Violates(pricing.DecisionRecord{OldPrice: d.OldPrice, NewPrice: d.NewPrice, MinPrice: d.MinPrice, MaxPrice: d.MaxPrice}, m.maxStepPct) {
			m.mu.violations++
		}
	case "refused":
		m.mu.refused++
	default:
		m.mu.kept++
	}
}

// Violates reports whether an applied change breaks a guardrail that its
// record shows: the product's bounds, or the largest step.
func Violates(d pricing.DecisionRecord, maxStepPct float64) bool {
	const cent = 0.005
	if d.MinPrice > 0 && d.NewPrice < d.MinPrice-cent {
		return true
	}
	if d.MaxPrice > 0 && d.NewPrice > d.MaxPrice+cent {
		return true
	}
	return maxStepPct > 0 && d.OldPrice > 0 && math.Abs(d.NewPrice-d.OldPrice) > d.OldPrice*maxStepPct/100+cent
}

// Stats is what the monitor has seen.
type Stats struct {
	Applied, Kept, Refused, Violations int64
	E2EP50, E2EP99, E2EP999            float64 // ms
	E2ECount                           int
}

// Stats returns the counts so far and the latency percentiles of the
// applied changes after the first skip of them (a warm-up to leave out).
func (m *Monitor) Stats(skip int) Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Applied: m.mu.applied, Kept: m.mu.kept, Refused: m.mu.refused, Violations: m.mu.violations}
	if skip < len(m.mu.e2e) {
		lat := slices.Clone(m.mu.e2e[skip:])
		slices.Sort(lat)
		s.E2ECount = len(lat)
		s.E2EP50, s.E2EP99, s.E2EP999 = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 0.999)
	}
	return s
}

// Window is the end-to-end latency of the applied changes decided in one
// interval of a run.
type Window struct {
	// At is the interval's start, in seconds after the run's.
	At      float64 `json:"at_s"`
	Changes int     `json:"changes"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
}

// Windows returns the latency percentiles of the applied changes after
// the first skip, by when they were decided: in intervals of width from
// origin, oldest first, those with no change left out. A burst of changes
// (the cooldown's waves, in the bench) shows as windows of many changes
// and a high median among quieter ones, which the run's percentiles
// alone hide.
func (m *Monitor) Windows(skip int, origin time.Time, width time.Duration) []Window {
	if width <= 0 {
		return nil
	}
	m.mu.Lock()
	byWindow := map[int64][]float64{}
	for i := skip; i < len(m.mu.e2e); i++ {
		at := m.mu.e2eAt[i]
		if at == 0 {
			continue
		}
		d := at - origin.UnixNano()
		k := d / int64(width)
		if d%int64(width) < 0 {
			k-- // round down before the origin too
		}
		byWindow[k] = append(byWindow[k], m.mu.e2e[i])
	}
	m.mu.Unlock()
	keys := make([]int64, 0, len(byWindow))
	for k := range byWindow {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Window, 0, len(keys))
	for _, k := range keys {
		lat := byWindow[k]
		slices.Sort(lat)
		out = append(out, Window{At: (time.Duration(k) * width).Seconds(), Changes: len(lat), P50: quantile(lat, 0.5), P99: quantile(lat, 0.99)})
	}
	return out
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
