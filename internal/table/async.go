package table

import (
	"bytes"
	"fmt"
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
	// The message is the index's once acknowledged (applyOwn keeps it):
	// not a pooled buffer.
	msg := appendVersion(make([]byte, 0, versionSize(&v)), &v)
	err = p.Publish(t.subject(key), msg, engine.AnySeq, func(seq uint64, err error) {
		if err != nil {
			done(0, fmt.Errorf("table %q: write: %w", t.name, classify(t.m.nc, err)))
			return
		}
		t.noteKeyWrite(key, seq)
		t.ix.applyOwn(seq, msg)
		t.writes[opPutItem].Inc()
		t.writeTime.Observe(time.Since(start).Seconds())
		done(seq, nil)
	})
	if err != nil {
		done(0, fmt.Errorf("table %q: write: %w", t.name, classify(t.m.nc, err)))
	}
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
