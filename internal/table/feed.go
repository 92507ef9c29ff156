package table

import (
	"fmt"
	"sync"
)

// feed hands the messages a table's index applies to the table's live
// subscriptions, in process, so that a change is delivered by the engine
// once (to the index) however many subscriptions read it, and a
// subscription sees it as soon as the index has applied it.
//
// A subscription is attached to the feed when it has read every change
// before the feed's position; the index applier then puts each change it
// applies into the subscription's buffer without waiting: when the buffer
// is full the feed drops the subscription (it fell behind) and tells its
// goroutine, which reads on from the engine with an ordered consumer of
// its own, from the first change the feed could not give it, and attaches
// again once it has caught up. A slow reader therefore never holds back
// the index or the other readers.
//
// feed.mu is never held while taking another lock, and is taken by the
// applier only after it has released index.mu and index.nmu.
type feed struct {
	mu struct {
		sync.Mutex
		// started is set once pos is the position the index's consumer
		// starts after; no subscription attaches before.
		started bool
		// pos is the sequence of the last message the index applied and
		// offered to the attached subscriptions.
		pos uint64
		// err is set when the index stopped: why the subscriptions end.
		err error
		// subs holds every running subscription; live the attached ones.
		subs map[*Subscription]struct{}
		live []*Subscription
	}
}

// rawChange is a change as the engine stores it; the reader decodes it.
// data is the engine message's payload, shared with the index and other
// subscriptions and never modified.
type rawChange struct {
	seq  uint64
	data []byte
}

// start sets the feed's position to after, the sequence the index's
// consumer starts after, and lets subscriptions attach.
func (f *feed) start(after uint64) {
	f.mu.Lock()
	f.mu.started, f.mu.pos = true, after
	f.mu.Unlock()
}

// publish offers the message at seq to the attached subscriptions that
// have not read it (change is false for lock markers and their release,
// which only move the position). It never blocks: a subscription whose
// buffer is full is dropped and told so.
func (f *feed) publish(seq uint64, data []byte, change bool) {
	f.mu.Lock()
	if seq <= f.mu.pos {
		f.mu.Unlock()
		return
	}
	f.mu.pos = seq
	if change {
		for i := 0; i < len(f.mu.live); {
			s := f.mu.live[i]
			if seq < s.fd.next {
				i++
				continue
			}
			select {
			case s.ch <- rawChange{seq, data}:
				i++
			default:
				s.fd.attached, s.fd.next = false, seq
				last := len(f.mu.live) - 1
				f.mu.live[i], f.mu.live[last] = f.mu.live[last], nil
				f.mu.live = f.mu.live[:last]
				s.fallbacks.Inc()
				select {
				case s.behind <- struct{}{}:
				default:
				}
			}
		}
	}
	f.mu.Unlock()
}

// register adds a new subscription; it fails once the index stopped.
func (f *feed) register(s *Subscription) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.err != nil {
		return f.mu.err
	}
	if f.mu.subs == nil {
		f.mu.subs = make(map[*Subscription]struct{})
	}
	f.mu.subs[s] = struct{}{}
	return nil
}

// attach attaches s, whose next change is at next, when the feed has not
// yet offered that change; otherwise s must read on from the engine.
func (f *feed) attach(s *Subscription, next uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.mu.started || f.mu.err != nil || next <= f.mu.pos {
		return false
	}
	s.fd.attached, s.fd.next = true, next
	f.mu.live = append(f.mu.live, s)
	return true
}

// resumeAt returns the first change the feed could not give s when it
// dropped it.
func (f *feed) resumeAt(s *Subscription) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return s.fd.next
}

// attached reports whether s reads from the feed.
func (f *feed) attached(s *Subscription) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return s.fd.attached
}

// remove forgets s: its goroutine is ending.
func (f *feed) remove(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mu.subs, s)
	if s.fd.attached {
		s.fd.attached = false
		for i, o := range f.mu.live {
			if o == s {
				last := len(f.mu.live) - 1
				f.mu.live[i], f.mu.live[last] = f.mu.live[last], nil
				f.mu.live = f.mu.live[:last]
				break
			}
		}
	}
}

// close ends the feed when the index stopped: every subscription's
// goroutine stops, and its reader gets err after the changes it buffered.
func (f *feed) close(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.err != nil {
		return
	}
	f.mu.err = err
	for s := range f.mu.subs {
		s.cancel()
	}
	for i := range f.mu.live {
		f.mu.live[i].fd.attached = false
		f.mu.live[i] = nil
	}
	f.mu.live = nil
}

// closedErr returns why the feed ended, or nil.
func (f *feed) closedErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.err
}

// stopErr is why an index's subscriptions end when it stops: the table
// was deleted, or the manager closed.
func (ix *index) stopErr() error {
	if ix.gone.Load() {
		return fmt.Errorf("%w: table %q was deleted", ErrNotFound, ix.t.name)
	}
	return ErrClosed
}
