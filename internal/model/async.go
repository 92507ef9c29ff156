package model

import (
	"context"
	"log/slog"
	"math"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
)

// asyncJob is a copy of one answered request for its shadow variant and
// its data capture.
type asyncJob struct {
	routing     *Routing
	variant     *variant
	shadow      bool
	capture     bool
	inferenceID string
	contentType string
	rows        [][]float64 // owned by the job
	out         []float64   // production's predictions, owned by the job
	time        time.Time
}

// asyncQueue runs the shadow variants and writes the data capture off the
// request path: requests submit copies without blocking (a full queue
// drops the copy and counts it), one worker evaluates the shadows and
// appends captures in batches.
type asyncQueue struct {
	ch      chan *asyncJob
	closed  atomic.Bool
	m       *metrics
	logger  *slog.Logger
	timeout time.Duration
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newAsyncQueue(size int, m *metrics, logger *slog.Logger) *asyncQueue {
	return &asyncQueue{ch: make(chan *asyncJob, size), m: m, logger: logger, timeout: 10 * time.Second}
}

// start starts the worker; stop stops it.
func (q *asyncQueue) start() {
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	q.wg.Go(func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("component", "model", "goroutine", "shadow-and-capture")))
		q.run(ctx)
	})
}

// stop refuses new jobs, lets the worker finish the queued ones (their
// capture appends bounded by the queue's timeout) and waits for it.
func (q *asyncQueue) stop() {
	if q.closed.Swap(true) {
		return
	}
	if q.cancel != nil {
		q.cancel()
	}
	q.wg.Wait()
}

func (q *asyncQueue) submit(j *asyncJob) {
	if q.closed.Load() {
		return
	}
	select {
	case q.ch <- j:
	default:
		q.m.dropped.WithLabelValues(j.routing.endpoint.name).Inc()
	}
}

func (q *asyncQueue) run(ctx context.Context) {
	const maxBatch = 256
	jobs := make([]*asyncJob, 0, maxBatch)
	for {
		jobs = jobs[:0]
		select {
		case j := <-q.ch:
			jobs = append(jobs, j)
		case <-ctx.Done():
			// Finish what is queued, then stop.
			for {
				select {
				case j := <-q.ch:
					jobs = append(jobs, j)
					if len(jobs) == maxBatch {
						q.process(jobs)
						jobs = jobs[:0]
					}
				default:
					q.process(jobs)
					return
				}
			}
		}
	more:
		for len(jobs) < maxBatch {
			select {
			case j := <-q.ch:
				jobs = append(jobs, j)
			default:
				break more
			}
		}
		q.process(jobs)
	}
}

// process evaluates the shadows of jobs and appends their captures, one
// Append per capture stream.
func (q *asyncQueue) process(jobs []*asyncJob) {
	type dest struct {
		s        *stream.Stream
		endpoint string
		entries  []stream.Entry
	}
	var dests []*dest
	for _, j := range jobs {
		r := j.routing
		var shadowOut []float64
		if j.shadow {
			sv := r.shadow
			shadowOut = make([]float64, len(j.rows))
			sv.rt.PredictBatch(j.rows, shadowOut)
			sv.m.shadow.Inc()
			for i, p := range shadowOut {
				if disagree(j.out[i], p, sv.tol) {
					sv.m.disagreement.Inc()
					break
				}
			}
		}
		if !j.capture {
			continue
		}
		var d *dest
		for _, x := range dests {
			if x.s == r.capture {
				d = x
			}
		}
		if d == nil {
			d = &dest{s: r.capture, endpoint: r.endpoint.name}
			dests = append(dests, d)
		}
		key := j.inferenceID
		if key == "" {
			key = r.endpoint.name
		}
		d.entries = append(d.entries, stream.Entry{PartitionKey: key, Data: captureRecord(j, shadowOut)})
	}
	for _, d := range dests {
		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		res, err := d.s.Append(ctx, d.entries)
		cancel()
		failed := 0
		if err != nil {
			failed = len(d.entries)
		} else {
			for _, r := range res {
				if r.Err != nil {
					failed++
					err = r.Err
				}
			}
		}
		q.m.captured.WithLabelValues(d.endpoint).Add(float64(len(d.entries) - failed))
		if failed > 0 {
			q.m.captureErrs.WithLabelValues(d.endpoint).Add(float64(failed))
			q.logger.Warn("data capture not stored", "endpoint", d.endpoint, "stream", d.s.Name(), "records", failed, "err", err)
		}
	}
}

func disagree(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) != math.IsNaN(b)
	}
	return math.Abs(a-b) > tol*math.Max(1, math.Abs(a))
}

// captureRecord is the JSON record of one captured request:
//
//	{"endpoint":"pricing","variant":"AllTraffic","model":"pricing","model_version":3,
//	 "time":"2026-…Z","inference_id":"…","content_type":"text/csv",
//	 "rows":[[1.5,null]],"predictions":[0.25],
//	 "shadow":{"variant":"Shadow","model":"pricing","model_version":4,"predictions":[0.26]}}
func captureRecord(j *asyncJob, shadowOut []float64) []byte {
	r, v := j.routing, j.variant
	b := make([]byte, 0, 128+24*len(j.rows)*(1+len(r.features)))
	b = append(b, `{"endpoint":`...)
	b = strconv.AppendQuote(b, r.endpoint.name)
	b = append(b, `,"variant":`...)
	b = strconv.AppendQuote(b, v.name)
	b = append(b, `,"model":`...)
	b = strconv.AppendQuote(b, v.model)
	b = append(b, `,"model_version":`...)
	b = strconv.AppendInt(b, int64(v.version), 10)
	b = append(b, `,"time":"`...)
	b = record.AppendTimeRFC3339Nano(b, j.time.UTC())
	b = append(b, '"')
	if j.inferenceID != "" {
		b = append(b, `,"inference_id":`...)
		b = strconv.AppendQuote(b, j.inferenceID)
	}
	if j.contentType != "" {
		b = append(b, `,"content_type":`...)
		b = strconv.AppendQuote(b, j.contentType)
	}
	b = append(b, `,"rows":[`...)
	for i, row := range j.rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloats(b, row)
	}
	b = append(b, `],"predictions":`...)
	b = appendFloats(b, j.out)
	if shadowOut != nil {
		s := r.shadow
		b = append(b, `,"shadow":{"variant":`...)
		b = strconv.AppendQuote(b, s.name)
		b = append(b, `,"model":`...)
		b = strconv.AppendQuote(b, s.model)
		b = append(b, `,"model_version":`...)
		b = strconv.AppendInt(b, int64(s.version), 10)
		b = append(b, `,"predictions":`...)
		b = appendFloats(b, shadowOut)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendFloats appends a JSON array of numbers; NaN and infinities, which
// JSON cannot hold, become null.
func appendFloats(b []byte, xs []float64) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONFloat(b, x)
	}
	return append(b, ']')
}

// AppendJSONFloat appends x as a JSON number in its shortest exact form,
// or null for NaN and infinities, which JSON cannot hold.
func AppendJSONFloat(b []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, x, 'g', -1, 64)
}
