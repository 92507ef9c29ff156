package trigger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/trigger"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = wasmCache.Close(context.Background())
	for _, d := range cleanupDirs {
		_ = os.RemoveAll(d)
	}
	if code == 0 {
		if err := goleak.Find(enginetest.LeakOptions()...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// wasmCache shares compiled WebAssembly modules between the tests'
// managers. It is on disk: an in-memory cache forgets a module when the
// runtime that compiled it closes.
var wasmCache = func() wazero.CompilationCache {
	dir, err := os.MkdirTemp("", "pricestream-wasm-cache")
	if err != nil {
		panic(err)
	}
	cleanupDirs = append(cleanupDirs, dir)
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		panic(err)
	}
	return c
}()

// env is a trigger manager running on a fresh engine.
type env struct {
	t       testing.TB
	eng     *engine.Engine
	streams *stream.Manager
	tables  *table.Manager
	fns     *trigger.Registry
	m       *trigger.Manager
	reg     *prometheus.Registry
	stop    func()
}

// testConfig retries quickly so that tests of the failure paths are fast.
var testConfig = trigger.Config{RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond}

// newEnv starts an engine (with opts), a stream manager and a trigger
// manager whose Run goroutine stops when the test ends.
func newEnv(t testing.TB, opts ...enginetest.Option) *env {
	t.Helper()
	return newEnvOn(t, enginetest.Start(t, opts...), testConfig)
}

func newEnvOn(t testing.TB, eng *engine.Engine, cfg trigger.Config) *env {
	t.Helper()
	e := &env{t: t, eng: eng, fns: trigger.NewRegistry(), reg: prometheus.NewRegistry()}
	var err error
	e.streams, err = stream.New(stream.Config{}, stream.Deps{Engine: eng, Registerer: e.reg})
	require.NoError(t, err)
	e.tables, err = table.New(table.Config{}, table.Deps{Engine: eng, Registerer: e.reg})
	require.NoError(t, err)
	e.m, err = trigger.New(cfg, trigger.Deps{
		Engine: eng,
		Sources: &trigger.Sources{Streams: e.streams, Region: "us-east-1", AccountID: "000000000000",
			Tables: &trigger.TableOpener{Tables: e.tables, Region: "us-east-1", AccountID: "000000000000"}},
		Streams:    e.streams,
		Functions:  e.fns,
		Registerer: e.reg,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.Run(ctx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, e.m.Close())
			e.streams.Close()
			require.NoError(t, e.tables.Close())
		})
	}
	t.Cleanup(e.stop)
	return e
}

func (e *env) createStream(name string, parts int) *stream.Stream {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.streams.Create(ctx, stream.Spec{Name: name, Partitions: parts}); err != nil {
		require.ErrorIs(e.t, err, stream.ErrExists)
	}
	s, err := e.streams.Open(ctx, name)
	require.NoError(e.t, err)
	return s
}

// put appends records keyed key(i) with data data(i), n at a time per
// append call.
func (e *env) put(s *stream.Stream, n, per int, key func(i int) string, data func(i int) string) {
	e.t.Helper()
	for from := 0; from < n; from += per {
		var entries []stream.Entry
		for i := from; i < min(n, from+per); i++ {
			entries = append(entries, stream.Entry{PartitionKey: key(i), Data: []byte(data(i))})
		}
		res, err := s.Append(context.Background(), entries)
		require.NoError(e.t, err)
		for _, r := range res {
			require.NoError(e.t, r.Err)
		}
	}
}

func (e *env) apply(doc string) *trigger.Definition {
	e.t.Helper()
	spec, err := trigger.ParseSpec([]byte(doc))
	require.NoError(e.t, err)
	d, _, err := e.m.Apply(context.Background(), spec)
	require.NoError(e.t, err)
	return d
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

// event is a record as a test function saw it.
type event struct {
	Seq       string
	Key       string
	Data      string
	Batch     int // invocation number
	ReadAfter string
}

// recorder is a Go function that records what it is given and may fail.
type recorder struct {
	mu     sync.Mutex
	events []event
	calls  int
	// fail decides an invocation's outcome from its records and the call
	// number; nil means success.
	fail func(call int, recs []*trigger.Record) (trigger.Response, error)
}

func (r *recorder) Invoke(_ context.Context, b *trigger.Batch) (trigger.Response, error) {
	r.mu.Lock()
	r.calls++
	call := r.calls
	f := r.fail
	r.mu.Unlock()
	if f != nil {
		resp, err := f(call, b.Records)
		if err != nil {
			return resp, err
		}
		if len(resp.BatchItemFailures) > 0 {
			// Records before the first failure were processed.
			first := slices.IndexFunc(b.Records, func(rec *trigger.Record) bool {
				return slices.ContainsFunc(resp.BatchItemFailures, func(f trigger.BatchItemFailure) bool { return f.ItemIdentifier == rec.SequenceNumber })
			})
			r.record(call, b.Records[:max(first, 0)])
			return resp, nil
		}
	}
	r.record(call, b.Records)
	return trigger.Response{}, nil
}

func (r *recorder) record(call int, recs []*trigger.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		r.events = append(r.events, event{Seq: rec.SequenceNumber, Key: rec.Key, Data: string(rec.Data), Batch: call, ReadAfter: rec.ReadAfter})
	}
}

func (r *recorder) snapshot() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitCount waits until the recorder has n events.
func (r *recorder) waitCount(t testing.TB, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, func() error {
		if c := r.count(); c < n {
			return fmt.Errorf("%d of %d records", c, n)
		}
		return nil
	})
}

// byKey groups the data of events by key, in delivery order.
func byKey(evs []event) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		out[e.Key] = append(out[e.Key], e.Data)
	}
	return out
}

// readAll reads every record of a stream.
func readAll(t testing.TB, s *stream.Stream) []stream.Record {
	t.Helper()
	var out []stream.Record
	for p := range s.Partitions() {
		res, err := s.Read(context.Background(), p, stream.Position{}, stream.ReadOptions{MaxRecords: stream.MaxReadRecords})
		require.NoError(t, err)
		out = append(out, res.Records...)
	}
	return out
}

// failedRecords decodes a destination stream's records.
func failedRecords(t testing.TB, s *stream.Stream) []trigger.FailedRecord {
	t.Helper()
	var out []trigger.FailedRecord
	for _, r := range readAll(t, s) {
		var fr trigger.FailedRecord
		require.NoError(t, json.Unmarshal(r.Data, &fr))
		out = append(out, fr)
	}
	return out
}

func dataN(i int) string { return fmt.Sprintf(`{"i":%d}`, i) }

// requireCounter checks the sum of a counter's series in the registry.
func requireCounter(t testing.TB, e *env, name string, want float64) {
	t.Helper()
	waitFor(t, 10*time.Second, func() error {
		got := counterValue(t, e, name)
		if got != want {
			return fmt.Errorf("%s = %v, want %v", name, got, want)
		}
		return nil
	})
}

func counterValue(t testing.TB, e *env, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
		}
	}
	return sum
}
