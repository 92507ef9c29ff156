package catalog

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// cache keeps the stream bindings and the tables they name current from
// the catalog bucket, and compiles a StreamCheck per bound stream for
// ingest. Its goroutine starts with Catalog.Start.
type cache struct {
	// checks is read without a lock on the ingest path.
	checks atomic.Pointer[map[string]*StreamCheck]

	mu struct {
		sync.Mutex
		running bool
		state   cacheState
		// changed is closed, and replaced, after every change.
		changed chan struct{}
	}
	cancel context.CancelFunc
	done   chan struct{}
}

// cacheState is what the watcher has applied; read under cache.mu.
type cacheState struct {
	tables   map[string]*Table // by "db.table"
	bindings map[string]*Binding
}

func (ca *cache) init() {
	ca.mu.state = cacheState{tables: map[string]*Table{}, bindings: map[string]*Binding{}}
	ca.mu.changed = make(chan struct{})
}

// waitBudget bounds how long a write waits for this process's checks to
// apply it; past it the write still succeeded and the checks catch up.
const waitBudget = 5 * time.Second

// waitUntil waits, when the watcher runs, until cond holds of the applied
// state, ctx is done, or waitBudget passes.
func (ca *cache) waitUntil(ctx context.Context, cond func(*cacheState) bool) {
	t := time.NewTimer(waitBudget)
	defer t.Stop()
	for {
		ca.mu.Lock()
		if !ca.mu.running || cond(&ca.mu.state) {
			ca.mu.Unlock()
			return
		}
		ch := ca.mu.changed
		ca.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-t.C:
			return
		}
	}
}

// tableWritten waits until the checks use t, if a stream is bound to it.
func (ca *cache) tableWritten(ctx context.Context, t *Table) {
	key := t.FullName()
	ca.waitUntil(ctx, func(cs *cacheState) bool {
		bound := false
		for _, b := range cs.bindings {
			if b.Database == t.Database && b.Table == t.Name {
				bound = true
				break
			}
		}
		cur := cs.tables[key]
		return !bound || (cur != nil && cur.Created.Equal(t.Created) && cur.Version >= t.Version)
	})
}

// Start loads the stream bindings and starts the goroutine that keeps
// them, and the checks ingest runs ([Catalog.StreamCheck]), current. It
// returns once the bindings are loaded. [Catalog.Close] stops the
// goroutine and waits for it. Start may be called once.
func (c *Catalog) Start(ctx context.Context) error {
	kv, err := c.bucket(ctx)
	if err != nil {
		return err
	}
	c.cache.mu.Lock()
	if c.cache.mu.running || c.cache.done != nil {
		c.cache.mu.Unlock()
		return errors.New("catalog: already started")
	}
	c.cache.mu.running = true
	c.cache.mu.Unlock()
	wctx, cancel := context.WithCancel(context.Background())
	w, err := c.openWatch(ctx, wctx, kv)
	if err != nil {
		cancel()
		c.cache.mu.Lock()
		c.cache.mu.running = false
		c.cache.mu.Unlock()
		return err
	}
	c.cache.cancel = cancel
	c.cache.done = make(chan struct{})
	go func() {
		defer close(c.cache.done)
		pprof.Do(wctx, pprof.Labels("component", "catalog-watch"), func(ctx context.Context) {
			c.watchLoop(ctx, kv, w)
		})
	}()
	return nil
}

// Close stops the watcher started by [Catalog.Start] and waits for it. It
// is idempotent; the catalog's other methods keep working (stream checks
// are no longer kept current).
func (c *Catalog) Close() error {
	c.cache.mu.Lock()
	c.cache.mu.running = false
	cancel, done := c.cache.cancel, c.cache.done
	c.cache.cancel = nil
	c.cache.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// watches are the two watchers of the cache.
type watches struct {
	bind, tbl jetstream.KeyWatcher
}

func (w *watches) stop() {
	_ = w.bind.Stop()
	_ = w.tbl.Stop()
}

// openWatch starts both watchers and applies their initial values; ctx
// bounds the initial load, wctx the watchers' life.
func (c *Catalog) openWatch(ctx, wctx context.Context, kv jetstream.KeyValue) (*watches, error) {
	bw, err := kv.Watch(wctx, "bind.>")
	if err != nil {
		return nil, fmt.Errorf("catalog: watch bindings: %w", c.classify(err))
	}
	tw, err := kv.Watch(wctx, "tbl.>")
	if err != nil {
		_ = bw.Stop()
		return nil, fmt.Errorf("catalog: watch tables: %w", c.classify(err))
	}
	w := &watches{bind: bw, tbl: tw}
	var state cacheState
	state.tables, state.bindings = map[string]*Table{}, map[string]*Binding{}
	for _, ch := range []<-chan jetstream.KeyValueEntry{bw.Updates(), tw.Updates()} {
	load:
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					w.stop()
					return nil, fmt.Errorf("%w: catalog watch ended", ErrUnavailable)
				}
				if e == nil {
					break load
				}
				c.applyEntry(&state, e)
			case <-ctx.Done():
				w.stop()
				return nil, c.classify(ctx.Err())
			}
		}
	}
	c.cache.mu.Lock()
	c.cache.mu.state = state
	c.rebuildLocked()
	c.cache.mu.Unlock()
	return w, nil
}

// watchLoop applies changes until ctx is done, reopening the watchers if
// the engine ends them.
func (c *Catalog) watchLoop(ctx context.Context, kv jetstream.KeyValue, w *watches) {
	defer func() { w.stop() }()
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return
		case e, ok = <-w.bind.Updates():
		case e, ok = <-w.tbl.Updates():
		}
		if !ok {
			w.stop()
			for ctx.Err() == nil {
				c.logger.Warn("catalog watch ended; reopening")
				lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				nw, err := c.openWatch(lctx, ctx, kv)
				cancel()
				if err == nil {
					w = nw
					break
				}
				c.logger.Warn("catalog watch reopen failed", "err", err)
				t := time.NewTimer(time.Second)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
			continue
		}
		if e == nil {
			continue
		}
		c.cache.mu.Lock()
		c.applyEntry(&c.cache.mu.state, e)
		c.rebuildLocked()
		c.cache.mu.Unlock()
	}
}

// applyEntry applies one bucket entry to a state.
func (c *Catalog) applyEntry(st *cacheState, e jetstream.KeyValueEntry) {
	key := e.Key()
	del := e.Operation() != jetstream.KeyValuePut
	switch {
	case len(key) > 5 && key[:5] == "bind.":
		stream := bindStream(key)
		if del {
			delete(st.bindings, stream)
			return
		}
		b := new(Binding)
		if err := jsonUnmarshal(e.Value(), b); err != nil {
			c.logger.Warn("bad binding entry ignored", "key", key, "err", err)
			return
		}
		st.bindings[stream] = b
	case len(key) > 4 && key[:4] == "tbl.":
		name := key[4:]
		if del {
			delete(st.tables, name)
			return
		}
		t, err := decodeTable(e.Value())
		if err != nil {
			c.logger.Warn("bad table entry ignored", "key", key, "err", err)
			return
		}
		st.tables[name] = t
	}
}

// rebuildLocked compiles the checks of the bound streams from the state,
// publishes them and wakes waiters. Called with cache.mu held.
func (c *Catalog) rebuildLocked() {
	st := &c.cache.mu.state
	old := c.cache.checks.Load()
	checks := make(map[string]*StreamCheck, len(st.bindings))
	for stream, b := range st.bindings {
		t := st.tables[b.Database+"."+b.Table]
		if t == nil {
			c.logger.Warn("stream bound to a table that does not exist: records are not checked", "stream", stream, "database", b.Database, "table", b.Table)
			continue
		}
		if old != nil {
			if prev := (*old)[stream]; prev != nil && prev.Table == t && prev.Binding.Created.Equal(b.Created) {
				checks[stream] = prev
				continue
			}
		}
		sc, err := newStreamCheck(b, t)
		if err != nil {
			c.logger.Warn("stream check cannot be built: records are not checked", "stream", stream, "err", err)
			continue
		}
		sc.counts = c.metrics.streamCounts(stream)
		checks[stream] = sc
	}
	c.cache.checks.Store(&checks)
	close(c.cache.mu.changed)
	c.cache.mu.changed = make(chan struct{})
}
