package etl

import (
	"context"
	"errors"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// outcome is what became of one input record. Every input has exactly
// one: records_in = processed + filtered + dead_lettered.
type outcome uint8

const (
	outProcessed outcome = iota // reached a sink or a window
	outFiltered                 // a transform or an inner join dropped it
	outDead                     // dead-lettered (late included)
)

// sinkFunc receives a row for the named sink ("" is the main sink); the row
// is valid until the call returns. An error stops the job (it is not the
// record's fault).
type sinkFunc func(ctx context.Context, sink string, row *record.Record, m srcMeta) error

// fatal marks an error that is not a record's fault.
type fatal struct{ err error }

func (f *fatal) Error() string { return f.err.Error() }
func (f *fatal) Unwrap() error { return f.err }

// processor runs a plan's pipeline for one worker goroutine: decode,
// transforms, joins, window, output, sink. It owns an expression VM and
// the transforms' scratch records; window state belongs to the partition
// (a *windowOp per partition, passed in).
type processor struct {
	plan      *Plan
	ev        exprEval
	env       stageEnv
	stages    []Transform
	paths     []string
	outStages []Transform
	outPaths  []string
	rec       record.Record
	etRef     *record.Ref
	sink      sinkFunc
	now       func() int64
	clock     int64 // the start of the batch at hand (Unix nanoseconds): rows' emit time
	routed    bool
	reached   bool
	curMeta   srcMeta
	curCtx    context.Context // set while a record is processed, only if a split_rows stage may route it
	routes    bool
}

func newProcessor(p *Plan, lookup func(string) *Lookup, sink sinkFunc) *processor {
	pr := &processor{plan: p, sink: sink, now: func() int64 { return time.Now().UnixNano() }, routes: len(p.sinks) > 0}
	pr.env = stageEnv{ev: &pr.ev, lookup: lookup, route: pr.route}
	for _, s := range p.stages {
		pr.stages = append(pr.stages, s.build(&pr.env))
		pr.paths = append(pr.paths, s.path)
	}
	for _, s := range p.output {
		pr.outStages = append(pr.outStages, s.build(&pr.env))
		pr.outPaths = append(pr.outPaths, s.path)
	}
	if p.eventTime != "" {
		pr.etRef = record.NewRef(schemaName(p.source, p.eventTime))
	}
	return pr
}

func (pr *processor) route(sink string, r *record.Record) error {
	pr.reached = true
	pr.routed = true
	if err := pr.sink(pr.curCtx, sink, r, pr.curMeta); err != nil {
		return &fatal{err}
	}
	return nil
}

// processData decodes data and processes it.
//
// Where the plan says so (Plan.inPlace), the record is decoded in place:
// its strings alias data instead of a copy of it. That is safe because
// data is never modified: it is a record of an engine message
// (stream.Record.Data, a slice of the message's payload, which nats.go
// allocates for each message it delivers and nothing here or in the
// stream package writes to or reuses; the bytes stay valid for as long
// as anything refers to them). What keeps a value past the event owns a
// copy of its strings: window state (aggDef.setValue, the keys' values),
// the stream sink (it encodes the row, and copies the partition key), a
// dead letter (encoded at once, with the original bytes); a decode error
// is independent of data. Jobs whose records can reach a table sink
// unwindowed decode with a copy (see Plan.inPlace).
func (pr *processor) processData(ctx context.Context, win *windowOp, data []byte, m srcMeta) (outcome, *RecordError, error) {
	var err error
	if d := pr.plan.inPlace; d != nil {
		err = d.DecodeInPlace(data, &pr.rec)
	} else {
		err = pr.plan.decoder.Decode(data, &pr.rec)
	}
	if err != nil {
		return outDead, &RecordError{Stage: "decode", Reason: "decode", Err: err}, nil
	}
	return pr.processRecord(ctx, win, &pr.rec, m)
}

// processRecord runs a decoded record through the pipeline.
func (pr *processor) processRecord(ctx context.Context, win *windowOp, r *record.Record, m srcMeta) (outcome, *RecordError, error) {
	pr.reached, pr.routed = false, false
	pr.curMeta = m
	if pr.routes { // a pointer store costs a write barrier while the GC marks
		pr.curCtx = ctx
	}
	err := pr.run(ctx, win, 0, r, m)
	if pr.routes {
		pr.curCtx = nil
	}
	if err != nil {
		var f *fatal
		if errors.As(err, &f) {
			return outProcessed, nil, f.err
		}
		var re *RecordError
		if errors.As(err, &re) {
			return outDead, re, nil
		}
		return outDead, &RecordError{Stage: "pipeline", Reason: "transform", Err: err}, nil
	}
	if pr.reached {
		return outProcessed, nil, nil
	}
	return outFiltered, nil, nil
}

func stageErr(path string, err error) error {
	var f *fatal
	if errors.As(err, &f) {
		return err
	}
	var re *RecordError
	if errors.As(err, &re) {
		if re.Stage == "" {
			re.Stage = path
		}
		return re
	}
	return &RecordError{Stage: path, Reason: "transform", Err: err}
}

func (pr *processor) run(ctx context.Context, win *windowOp, i int, r *record.Record, m srcMeta) error {
	for ; i < len(pr.stages); i++ {
		out, err := pr.stages[i](ctx, r)
		if err != nil {
			return stageErr(pr.paths[i], err)
		}
		switch len(out) {
		case 0:
			return nil
		case 1:
			r = out[0]
		default:
			for _, o := range out {
				if err := pr.run(ctx, win, i+1, o, m); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if win != nil {
		t, err := eventNanos(r, pr.etRef, pr.plan.eventTime, m.arrival)
		if err != nil {
			return &RecordError{Stage: "window", Reason: "event_time", Err: err}
		}
		var now int64
		if win.def.emit == emitInterval { // only interval emission reads the clock
			now = pr.now()
		}
		err = win.add(r, t, m, &pr.ev, now, func(row *record.Record, rm srcMeta) error { return pr.output(ctx, row, rm) })
		if err != nil {
			return stageErr("window", err)
		}
		pr.reached = true
		return nil
	}
	pr.reached = true
	return pr.output(ctx, r, m)
}

// output runs the output transforms and hands the result to the sink.
func (pr *processor) output(ctx context.Context, r *record.Record, m srcMeta) error {
	return pr.outputFrom(ctx, 0, r, m)
}

func (pr *processor) outputFrom(ctx context.Context, i int, r *record.Record, m srcMeta) error {
	for ; i < len(pr.outStages); i++ {
		out, err := pr.outStages[i](ctx, r)
		if err != nil {
			return stageErr(pr.outPaths[i], err)
		}
		switch len(out) {
		case 0:
			return nil
		case 1:
			r = out[0]
		default:
			for _, o := range out {
				if err := pr.outputFrom(ctx, i+1, o, m); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := pr.sink(ctx, "", r, m); err != nil {
		return &fatal{err}
	}
	return nil
}

// flushDue emits interval rows that are due.
func (pr *processor) flushDue(ctx context.Context, win *windowOp) error {
	if win == nil || pr.plan.window.emit != emitInterval {
		return nil
	}
	err := win.flushDue(pr.now(), func(row *record.Record, m srcMeta) error { return pr.output(ctx, row, m) })
	var f *fatal
	if errors.As(err, &f) {
		return f.err
	}
	return err
}
