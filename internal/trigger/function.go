package trigger

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Function processes batches of records. Implementations are safe for
// concurrent use: with parallelism above 1 a trigger invokes one function
// concurrently for disjoint sets of keys.
type Function interface {
	// Invoke processes the batch. A nil error with an empty Response means
	// every record succeeded. A Response listing failed items (honoured
	// when the trigger reports batch item failures) means the records
	// before the first failed one succeeded; an error means the whole
	// batch failed. Invoke must not keep the batch after it returns, and
	// should return when ctx is done (the function timeout).
	Invoke(ctx context.Context, b *Batch) (Response, error)
}

// Syncer is an optional capability of a Go [Function] whose
// [Response.Complete] returns once what the invocation wrote is stored but
// not yet fsynced (records submitted with stream.Stream.SubmitNoSync): the
// runner calls Sync before it commits a checkpoint, so that no checkpoint
// passes rows whose outputs a crash of the machine could lose. One Sync
// covers every batch completed before it; an error leaves the checkpoint
// uncommitted, to be tried again like a failed commit. Checkpoints are
// committed at most once per commit_interval, so a function syncs that
// often, not once per batch.
type Syncer interface {
	Sync(ctx context.Context) error
}

// ImageProjector is an optional capability of a [Function]: on a table's
// change stream, a function that implements it gets in each change's
// NewImage and OldImage only the top-level attributes ImageAttrs names
// (and those the trigger's filters read), which the trigger decodes
// alone; Keys stay whole, and [Change.Projected] names what was decoded.
// The trigger finds it by type assertion when it starts, and calls
// ImageAttrs each time it opens its source: when it starts, after a
// failure, and when the function returned [ErrReread]. ImageAttrs returns
// nil for whole images, as a function without it gets them. A function
// that names its attributes must read no others of the images: those are
// absent, as if the item did not have them. A function that needs more
// than a record was decoded with (its inputs changed at run time) answers
// ImageAttrs with them from then on and returns [ErrReread] for the
// batch. The records sent to the trigger's on-failure destination are the
// ones the function got, projected alike. HTTP and wasm functions get
// whole images.
type ImageProjector interface {
	// ImageAttrs returns the names of the attributes the function reads
	// of the images, or nil for all of them. The caller does not modify
	// the slice.
	ImageAttrs() []string
}

// ErrReread, returned by Invoke (alone or wrapped), asks the trigger to
// read the batch's records from the source again rather than retry them
// as they are: a function whose [ImageProjector] now names attributes
// the records were decoded without returns it, before it acts on any
// record of the batch. The trigger opens its source again after its last
// record done (asking ImageAttrs anew) at once, without counting a
// failure, spending a retry or sending anything to the on-failure
// destination. Records of other lanes done meanwhile may be delivered
// again, as after any restart. A function that returns it again before
// any record is done is treated as failing (with backoff), so that a
// function that can never be satisfied does not spin. Test with
// errors.Is.
var ErrReread = errors.New("trigger: records to be read again with the function's image attributes")

// FunctionOf adapts a plain Go function to a Function.
type FunctionOf func(ctx context.Context, b *Batch) (Response, error)

// Invoke calls f.
func (f FunctionOf) Invoke(ctx context.Context, b *Batch) (Response, error) { return f(ctx, b) }

// Batch is the records of one invocation, all from one partition, in the
// order they were stored (with parallelism above 1, the records of some
// keys only).
type Batch struct {
	// Trigger is the trigger's name.
	Trigger string
	// Source is the spec's source ("stream:clicks").
	Source string
	// Partition of the source.
	Partition int
	// Records to process. A function must not modify them.
	Records []*Record

	src Source
}

// AppendEvent appends the batch as the event Lambda would give a function:
// {"Records": [...]} with each record in its source's shape.
func (b *Batch) AppendEvent(dst []byte) []byte {
	dst = append(dst, `{"Records":[`...)
	for i, r := range b.Records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = b.src.AppendRecord(dst, r)
	}
	return append(dst, "]}"...)
}

// Response is a function's answer, Lambda's partial-batch response.
type Response struct {
	// BatchItemFailures names the records that failed by their sequence
	// numbers; the runner retries from the lowest of them.
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`

	// Complete, set by a Go function, finishes what the invocation started
	// and returned without waiting for: records it submitted to a stream
	// and that are still being stored, say. The lane goes on to its next
	// batch at once and calls Complete before it counts this batch done
	// (before the checkpoint may pass its records), so that the wait
	// overlaps the next invocation; an idle lane calls it at once. An
	// error from Complete makes the runner read the partition again from
	// its checkpoint after a backoff: this batch and every later one not
	// done are delivered again, so a function that returns Complete must
	// be idempotent for them. When the response names failed records,
	// Complete is called before the retry, and its error fails the whole
	// batch.
	Complete func(ctx context.Context) error `json:"-"`
}

// BatchItemFailure names one failed record.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Registry holds the Go functions a binary offers to triggers by name
// ("go:NAME"). It is safe for concurrent use. The binary builds one and
// passes it in [Deps]; there is no global registry.
type Registry struct {
	mu  sync.RWMutex
	fns map[string]Function
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{fns: map[string]Function{}} }

// Register adds a function under name (1-64 of a-z, A-Z, 0-9, '_', '-').
// Registering a name twice is an error.
func (r *Registry) Register(name string, fn Function) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: go function name %q: want 1-64 characters of a-z, A-Z, 0-9, '_', '-'", ErrInvalidArgument, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.fns[name]; ok {
		return fmt.Errorf("%w: go function %q is registered already", ErrExists, name)
	}
	r.fns[name] = fn
	return nil
}

// Lookup returns the function registered under name.
func (r *Registry) Lookup(name string) (Function, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.fns[name]
	return fn, ok
}

// Names returns the registered names (unsorted).
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.fns))
	for n := range r.fns {
		out = append(out, n)
	}
	return out
}
