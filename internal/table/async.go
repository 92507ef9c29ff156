package table

import (
	"bytes"
	"cmp"
	"fmt"
	"sync"
	"time"

	"github.com/pricestream/pricestream/internal/engine"
)

// PutEncodedAsync stores the item whose binary form is data as
// [Table.PutEncoded] does with WriteOptions{NoSync: true, Unchecked: true},
// without waiting for the engine: done is called once with the stored
// version's sequence, with 0 and no error when the item was already there
// as it is (nothing stored), or with an error, after which the item may or
// may not be stored (PutEncoded, which retries what this does not wait
// for, makes sure). done runs on one of the table's goroutines (the one
// that hands on the engine's acknowledgements, or the index's applier), or
// on the caller's before PutEncodedAsync returns when the outcome is known
// at once; it must not block. data must not change until done is called.
//
// Like PutEncoded it compares the item with the version the index holds,
// after the index has applied this process's last write of the key: a key
// written again before that waits for it without holding a goroutine. An
// item locked by a transaction in progress is not written (done gets an
// error wrapping [ErrConflict]; PutEncoded resolves the lock). Writes of
// one key land in the order made when each is made after the one before
// it is done. The index applies a write as its acknowledgement comes, when
// it is the stream's next message (index.applyOwn), so by the time done
// is called readers and change subscriptions usually see it.
//
// A caller keeping many writes in flight this way costs the scheduler one
// goroutine for all of their acknowledgements, where waiting writers are
// one goroutine woken per write.
func (t *Table) PutEncodedAsync(data []byte, done func(seq uint64, err error)) {
	key, err := t.schema.KeyOfBinary(data)
	if err != nil {
		done(0, err)
		return
	}
	if err := t.m.eng.CheckStorage(); err != nil {
		done(0, fmt.Errorf("%w: %w", ErrUnavailable, err))
		return
	}
	start := time.Now()
	kb := key.AppendOrdered(nil)
	if t.batched {
		t.putBatchedAsync(kb, data, done)
		return
	}
	if t.ix.whenApplied(t.keyWrite(kb), func(err error) {
		if err != nil {
			done(0, err)
			return
		}
		t.putAsync(kb, data, start, done)
	}) {
		return
	}
	t.putAsync(kb, data, start, done)
}

// putAsync publishes the version of PutEncodedAsync once the index holds
// this process's last write of the key.
func (t *Table) putAsync(key, data []byte, start time.Time, done func(uint64, error)) {
	if err := t.deleted(); err != nil {
		done(0, err)
		return
	}
	p, err := t.m.asyncPublisher()
	if err != nil {
		done(0, err)
		return
	}
	e := t.ix.get(string(key))
	if e != nil && e.lock != nil {
		done(0, fmt.Errorf("%w: table %q: the item is locked by a transaction in progress", ErrConflict, t.name))
		return
	}
	v := version{op: opPut, time: time.Now().UnixNano(), key: key, item: data}
	if e != nil {
		if bytes.Equal(data, e.item) {
			done(0, nil)
			return
		}
		v.flags |= flagExisted
		if t.view.needsOld() {
			v.flags |= flagOld
			v.old = e.item
		}
	}
	err = t.publishAsync(p, &v, engine.AnySeq, opPutItem, "write", start, done)
	if err != nil {
		done(0, fmt.Errorf("table %q: write: %w", t.name, classify(t.m.nc, err)))
	}
}

// publishAsync publishes v through p, stored only if its subject's last
// message is expect ([engine.AnySeq]: whatever it is), and returns at
// once; on the acknowledgement it notes the write, applies it to the
// index and counts it as op (started at start) before calling done with
// its sequence, or calls done with the engine's error, classified and
// named by what ("write"). An error returned means nothing was sent and
// done is not called.
func (t *Table) publishAsync(p *engine.AsyncPublisher, v *version, expect uint64, op writeOp, what string, start time.Time, done func(seq uint64, err error)) error {
	// The message is the index's once acknowledged (applyOwn keeps it):
	// not a pooled buffer.
	msg := appendVersion(make([]byte, 0, versionSize(v)), v)
	key := v.key
	return p.Publish(t.subject(key), msg, expect, func(seq uint64, err error) {
		if err != nil {
			done(0, fmt.Errorf("table %q: %s: %w", t.name, what, classify(t.m.nc, err)))
			return
		}
		t.noteKeyWrite(key, seq)
		t.ix.applyOwn(seq, msg)
		t.writes[op].Inc()
		t.writeTime.Observe(time.Since(start).Seconds())
		done(seq, nil)
	})
}

// inflight bounds how many of a pass's requests to the engine wait at once
// and keeps the first error one of them met. start takes a place, waiting
// for one; finish gives it back with the request's outcome; wait waits for
// every place to be given back.
type inflight struct {
	wg    sync.WaitGroup
	slots chan struct{}
	mu    sync.Mutex
	err   error
}

func newInflight(n int) *inflight { return &inflight{slots: make(chan struct{}, n)} }

func (f *inflight) start() {
	f.slots <- struct{}{}
	f.wg.Add(1)
}

func (f *inflight) finish(err error) {
	if err != nil {
		f.fail(err)
	}
	<-f.slots
	f.wg.Done()
}

// fail keeps err when it is the first.
func (f *inflight) fail(err error) {
	f.mu.Lock()
	f.err = cmp.Or(f.err, err)
	f.mu.Unlock()
}

// failed returns the first error so far.
func (f *inflight) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// wait waits for the requests started and returns the first error.
func (f *inflight) wait() error {
	f.wg.Wait()
	return f.failed()
}

// asyncPublisher returns the manager's publisher of asynchronous writes,
// made on first use on the writes' connection.
func (m *Manager) asyncPublisher() (*engine.AsyncPublisher, error) {
	if p := m.apub.Load(); p != nil {
		return p, nil
	}
	m.apubMu.Lock()
	defer m.apubMu.Unlock()
	p := m.apub.Load()
	if p == nil {
		m.mu.Lock()
		closed := m.mu.closed
		m.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		var err error
		if p, err = engine.NewAsyncPublisher(m.nc, m.cfg.WriteTimeout); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		m.apub.Store(p)
	}
	return p, nil
}

// closeAsyncPublisher closes the publisher of asynchronous writes, if one
// was made: the writes still waiting fail with engine.ErrClosed. The
// manager is closed already.
func (m *Manager) closeAsyncPublisher() {
	m.apubMu.Lock()
	p := m.apub.Load()
	m.apubMu.Unlock()
	if p != nil {
		p.Close()
	}
}
