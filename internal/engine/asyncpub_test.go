package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
)

// asyncResult is what a publish's done function was handed.
type asyncResult struct {
	seq uint64
	err error
}

// asyncResults collects done calls by name, failing the test on a second
// call for one name.
type asyncResults struct {
	t  *testing.T
	mu sync.Mutex
	m  map[string]asyncResult
}

func newAsyncResults(t *testing.T) *asyncResults {
	return &asyncResults{t: t, m: map[string]asyncResult{}}
}

func (r *asyncResults) done(name string) func(uint64, error) {
	return func(seq uint64, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.m[name]; ok {
			r.t.Errorf("done called twice for %s", name)
		}
		r.m[name] = asyncResult{seq, err}
	}
}

// wait returns the result for name once done was called.
func (r *asyncResults) wait(name string, within time.Duration) asyncResult {
	r.t.Helper()
	var res asyncResult
	polltest.Until(r.t, within, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		var ok bool
		if res, ok = r.m[name]; !ok {
			return fmt.Errorf("done not called for %s", name)
		}
		return nil
	})
	return res
}

func TestEngineAsyncPublish(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	s, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "ap", Subjects: []string{"ap.>"}})
	require.NoError(t, err)
	p, err := engine.NewAsyncPublisher(e.Conn(), 5*time.Second)
	require.NoError(t, err)
	defer p.Close()

	res := newAsyncResults(t)
	const n = 500
	for i := range n {
		name := strconv.Itoa(i)
		require.NoError(t, p.Publish("ap."+strconv.Itoa(i%7), []byte(name), engine.AnySeq, res.done(name)))
	}
	seen := map[uint64]bool{}
	for i := range n {
		r := res.wait(strconv.Itoa(i), 10*time.Second)
		require.NoError(t, r.err, "publish %d", i)
		require.False(t, seen[r.seq], "sequence %d handed twice", r.seq)
		seen[r.seq] = true
		// The sequence handed on is the one the message was stored at.
		m, err := s.GetMsg(ctx, r.seq)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i), string(m.Data))
	}
	require.Zero(t, p.Pending())

	// The expected last sequence of the subject is checked.
	last, err := s.GetLastMsgForSubject(ctx, "ap.3")
	require.NoError(t, err)
	require.NoError(t, p.Publish("ap.3", []byte("stale"), last.Sequence-1, res.done("stale")))
	require.NoError(t, p.Publish("ap.3", []byte("next"), last.Sequence, res.done("next")))
	r := res.wait("stale", 10*time.Second)
	require.True(t, engine.IsWrongLastSeq(r.err), "a stale expected sequence: %v", r.err)
	r = res.wait("next", 10*time.Second)
	require.NoError(t, r.err)
	require.Greater(t, r.seq, last.Sequence)
}

func TestEngineAsyncPublishNoStream(t *testing.T) {
	e := enginetest.Start(t)
	p, err := engine.NewAsyncPublisher(e.Conn(), 5*time.Second)
	require.NoError(t, err)
	defer p.Close()
	res := newAsyncResults(t)
	require.NoError(t, p.Publish("nowhere.1", []byte("x"), engine.AnySeq, res.done("x")))
	r := res.wait("x", 10*time.Second)
	require.ErrorIs(t, r.err, jetstream.ErrNoStreamResponse)
	require.ErrorIs(t, r.err, nats.ErrNoResponders)
}

// A publish whose acknowledgement never comes (here a plain subscriber
// takes the message and answers nothing) fails after the timeout; Close
// fails what still waits and refuses later publishes.
func TestEngineAsyncPublishTimeoutAndClose(t *testing.T) {
	e := enginetest.Start(t)
	nc := e.Conn()
	sub, err := nc.SubscribeSync("silent.>")
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()

	p, err := engine.NewAsyncPublisher(nc, 50*time.Millisecond)
	require.NoError(t, err)
	res := newAsyncResults(t)
	start := time.Now()
	require.NoError(t, p.Publish("silent.1", []byte("x"), engine.AnySeq, res.done("timeout")))
	r := res.wait("timeout", 10*time.Second)
	require.ErrorIs(t, r.err, nats.ErrTimeout)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	require.Zero(t, p.Pending())
	p.Close()

	p, err = engine.NewAsyncPublisher(nc, time.Hour)
	require.NoError(t, err)
	require.NoError(t, p.Publish("silent.2", []byte("x"), engine.AnySeq, res.done("closed")))
	require.Equal(t, 1, p.Pending())
	p.Close()
	// Close has called done by the time it returns.
	res.mu.Lock()
	r, ok := res.m["closed"]
	res.mu.Unlock()
	require.True(t, ok, "Close returned before failing the publish waiting")
	require.ErrorIs(t, r.err, engine.ErrClosed)
	require.ErrorIs(t, p.Publish("silent.3", []byte("x"), engine.AnySeq, res.done("after")), engine.ErrClosed)
	p.Close() // idempotent
}

// A publisher's goroutines (the client's for its acknowledgements, its
// expiry) carry labels of their own, not those of the goroutine that made
// it: a CPU profile puts the acknowledgements of every write on the
// engine, not on whichever job's sink happened to write first.
func TestEngineAsyncPublisherLabels(t *testing.T) {
	e := enginetest.Start(t)
	var p *engine.AsyncPublisher
	pprof.Do(context.Background(), pprof.Labels("job", "first-writer"), func(context.Context) {
		var err error
		p, err = engine.NewAsyncPublisher(e.Conn(), 5*time.Second)
		require.NoError(t, err)
	})
	defer p.Close()
	// Once both have started (a new goroutine's stack is empty).
	polltest.Until(t, 10*time.Second, func() error {
		var buf bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
			return err
		}
		var acks, expiry int
		for _, g := range strings.Split(buf.String(), "\n\n") {
			require.NotContains(t, g, "first-writer", "a goroutine with the maker's labels:\n%s", g)
			labelled := strings.Contains(g, `"goroutine":"async-acks"`)
			if strings.Contains(g, "AsyncPublisher).expire") {
				require.True(t, labelled, "the expiry goroutine:\n%s", g)
				expiry++
			}
			if labelled && strings.Contains(g, "waitForMsgs") {
				acks++
			}
		}
		if expiry != 1 || acks != 1 {
			return fmt.Errorf("%d labelled expiry and %d labelled acknowledgement goroutines, want 1 and 1:\n%s", expiry, acks, buf.String())
		}
		return nil
	})
}
