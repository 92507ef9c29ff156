package engine

import (
	"context"
	"fmt"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AsyncPublisher publishes messages as [PublishExpect] does, without
// waiting for the engine's acknowledgements: each publish names a function
// that is handed its acknowledgement (the stored message's sequence) or
// its failure. One subscription of the connection receives every
// acknowledgement and calls those functions one after another.
//
// Why: a writer waiting for each acknowledgement is a goroutine woken per
// message (and another that wakes it); a pool of such writers keeping a
// hundred writes in flight put as many goroutines in the scheduler's run
// queues, ahead of every other part of the process on a small machine. The
// acknowledgements of many writes in flight arrive together and are handled
// by one goroutine, mostly without sleeping between them.
//
// An acknowledgement that does not come within the timeout (the stream's
// leader went away, the connection dropped) fails its publish with an
// error wrapping [nats.ErrTimeout]; "no responders" is not retried as
// [PublishExpect] retries it but handed on (wrapping
// [jetstream.ErrNoStreamResponse]). After an error the message may or may
// not be stored: a caller that must know writes again the way that tells
// (a table write compares the stored item, for one).
//
// An AsyncPublisher is safe for concurrent use. [NewAsyncPublisher] starts
// a goroutine that times publishes out and the subscription's own; [Close]
// stops both, fails the publishes still waiting with [ErrClosed], and
// waits. The done functions run on those goroutines and must not block.
type AsyncPublisher struct {
	nc      *nats.Conn
	prefix  string // reply subjects are prefix + a token
	timeout time.Duration
	sub     *nats.Subscription

	mu struct {
		sync.Mutex
		next    uint64
		pending map[uint64]asyncWait
		closed  bool
	}
	stop     chan struct{}
	wg       sync.WaitGroup // the expiry goroutine
	handling sync.WaitGroup // acknowledgements being handed on
}

// asyncWait is a publish waiting for its acknowledgement.
type asyncWait struct {
	done func(seq uint64, err error)
	at   time.Time // when it was published
}

// NewAsyncPublisher returns a publisher on nc whose publishes fail when not
// acknowledged within timeout. It subscribes to a reply subject of its own
// and starts a goroutine; [AsyncPublisher.Close] stops it.
func NewAsyncPublisher(nc *nats.Conn, timeout time.Duration) (*AsyncPublisher, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("engine: asynchronous publish timeout must be > 0, got %v", timeout)
	}
	p := &AsyncPublisher{nc: nc, prefix: nc.NewRespInbox() + ".", timeout: timeout, stop: make(chan struct{})}
	p.mu.pending = make(map[uint64]asyncWait)
	// The subscription's goroutine (the client starts one per
	// subscription) and the expiry goroutine would take the labels of the
	// goroutine that happens to make the publisher, say one ETL job's
	// sink, and a CPU profile would put every table's acknowledgements on
	// that job: they get labels of their own.
	var sub *nats.Subscription
	var err error
	pprof.Do(context.Background(), pprof.Labels("component", "engine", "goroutine", "async-acks"), func(context.Context) {
		if sub, err = nc.Subscribe(p.prefix+"*", p.acknowledged); err != nil {
			return
		}
		// The publishes in flight bound what waits here; a slow
		// consumer's dropped acknowledgements would only time out.
		if err = sub.SetPendingLimits(-1, -1); err != nil {
			_ = sub.Unsubscribe()
			return
		}
		p.wg.Go(p.expire)
	})
	if err != nil {
		return nil, fmt.Errorf("engine: subscribe to acknowledgements: %w", err)
	}
	p.sub = sub
	return p, nil
}

// Publish stores data on subject if the subject's last message is expectSeq
// (0: none; [AnySeq]: whatever it is) and returns at once; done is called
// later, once, with the stored message's sequence or an error. An error
// returned by Publish itself (the connection is closed, say) means nothing
// was sent, and done is not called. data may be reused once Publish
// returns.
func (p *AsyncPublisher) Publish(subject string, data []byte, expectSeq uint64, done func(seq uint64, err error)) error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.mu.next++
	tok := p.mu.next
	p.mu.pending[tok] = asyncWait{done: done, at: time.Now()}
	p.mu.Unlock()

	reply := p.prefix + strconv.FormatUint(tok, 36)
	var err error
	if expectSeq == AnySeq {
		err = p.nc.PublishRequest(subject, reply, data)
	} else {
		err = p.nc.PublishMsg(&nats.Msg{Subject: subject, Reply: reply, Data: data, Header: expectHeader(expectSeq)})
	}
	if err != nil {
		p.mu.Lock()
		delete(p.mu.pending, tok)
		p.mu.Unlock()
		return err
	}
	return nil
}

// Pending returns how many publishes wait for their acknowledgement.
func (p *AsyncPublisher) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.pending)
}

// acknowledged hands an acknowledgement to its publish's done function.
func (p *AsyncPublisher) acknowledged(m *nats.Msg) {
	tok, err := strconv.ParseUint(m.Subject[min(len(p.prefix), len(m.Subject)):], 36, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	w, ok := p.mu.pending[tok]
	if !ok || p.mu.closed {
		p.mu.Unlock()
		return // timed out already, or Close fails it
	}
	delete(p.mu.pending, tok)
	p.handling.Add(1)
	p.mu.Unlock()
	defer p.handling.Done()
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		w.done(0, fmt.Errorf("%w: %w", jetstream.ErrNoStreamResponse, nats.ErrNoResponders))
		return
	}
	w.done(ParsePubAck(m.Data))
}

// expire fails the publishes not acknowledged within the timeout, looking
// a few times per timeout.
func (p *AsyncPublisher) expire() {
	tick := time.NewTicker(max(p.timeout/8, time.Millisecond))
	defer tick.Stop()
	var late []asyncWait
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			p.mu.Lock()
			for tok, w := range p.mu.pending {
				if now.Sub(w.at) >= p.timeout {
					late = append(late, w)
					delete(p.mu.pending, tok)
				}
			}
			p.mu.Unlock()
			for i, w := range late {
				w.done(0, fmt.Errorf("engine: publish not acknowledged within %v: %w", p.timeout, nats.ErrTimeout))
				late[i] = asyncWait{}
			}
			late = late[:0]
		}
	}
}

// Close stops the publisher: later publishes return [ErrClosed], and the
// publishes waiting for an acknowledgement are failed with it. It waits
// for the publisher's goroutines and is idempotent.
func (p *AsyncPublisher) Close() {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return
	}
	p.mu.closed = true
	p.mu.Unlock()
	close(p.stop)
	_ = p.sub.Unsubscribe() // fails only when the connection is closed, which ends it too
	p.wg.Wait()
	p.handling.Wait()
	p.mu.Lock()
	left := p.mu.pending
	p.mu.pending = map[uint64]asyncWait{}
	p.mu.Unlock()
	for _, w := range left {
		w.done(0, ErrClosed)
	}
}
