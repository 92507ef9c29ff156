package web

import (
	"context"
	"runtime/pprof"
	"sync"
	"time"
)

// readyWait bounds how long a new viewer's first snapshot waits for the
// decisions to be read back.
const readyWait = 3 * time.Second

// look records that a viewer looks now and asks for a session if none is
// running. It returns the session's ready channel, closed once the
// session has read back the newest decisions.
func (d *Dashboard) look() <-chan struct{} {
	d.watch.Lock()
	defer d.watch.Unlock()
	d.watch.last = time.Now()
	if d.watch.ready == nil {
		d.watch.ready = make(chan struct{})
		select {
		case d.wake <- struct{}{}:
		default: // already asked
		}
	}
	return d.watch.ready
}

// arrive records a viewer that stays (an event stream) until leave.
func (d *Dashboard) arrive() <-chan struct{} {
	d.watch.Lock()
	d.watch.viewers++
	d.watch.Unlock()
	return d.look()
}

// leave records that a viewer who arrived has gone.
func (d *Dashboard) leave() {
	d.watch.Lock()
	defer d.watch.Unlock()
	d.watch.viewers--
	d.watch.last = time.Now()
}

// awaitReady waits until ready is closed, at most readyWait, and not at
// all when Run is not running.
func (d *Dashboard) awaitReady(ctx context.Context, ready <-chan struct{}) {
	if !d.running.Load() {
		return
	}
	t := time.NewTimer(readyWait)
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
	case <-d.drained:
	case <-t.C:
	}
}

// following reports whether a session is running or asked for.
func (d *Dashboard) following() bool {
	d.watch.Lock()
	defer d.watch.Unlock()
	return d.watch.ready != nil
}

// session follows the decisions and samples rates and lag until nobody has
// looked for Config.Linger, or ctx ends; then it forgets them. It returns
// when its goroutines have stopped.
func (d *Dashboard) session(ctx context.Context) {
	d.watch.Lock()
	ready := d.watch.ready
	d.watch.Unlock()
	if ready == nil {
		return // a stale request
	}
	// The decision rate's first sample, before the follower can take a
	// decision in live: the sampler's own first one comes after its
	// engine requests, and a decision counted before it never showed.
	d.mu.Lock()
	d.mu.decided.add(time.Now(), d.mu.live)
	d.mu.Unlock()
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		pprof.Do(sctx, pprof.Labels("component", "web", "goroutine", "follow-decisions"), func(ctx context.Context) { d.follow(ctx, ready) })
	})
	wg.Go(func() { pprof.Do(sctx, pprof.Labels("component", "web", "goroutine", "sample"), d.sample) })
	d.awaitIdle(ctx)
	stop()
	wg.Wait()
	d.mu.Lock()
	d.resetLocked()
	d.mu.Unlock()
	d.sessions.Add(1)
}

// awaitIdle returns when nobody has looked for Config.Linger, or ctx ends,
// and then ends the session: the next viewer asks for a new one.
func (d *Dashboard) awaitIdle(ctx context.Context) {
	for {
		d.watch.Lock()
		wait := d.cfg.Linger
		if d.watch.viewers == 0 {
			idle := time.Since(d.watch.last)
			if idle >= d.cfg.Linger {
				d.watch.ready = nil
				d.watch.Unlock()
				return
			}
			wait -= idle
		}
		d.watch.Unlock()
		if !sleep(ctx, wait) {
			d.watch.Lock()
			d.watch.ready = nil
			d.watch.Unlock()
			return
		}
	}
}
