package table

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/table/item"
)

// EventName says what a change did to its item, as DynamoDB Streams'
// eventName.
type EventName string

// The event names.
const (
	EventInsert EventName = "INSERT"
	EventModify EventName = "MODIFY"
	EventRemove EventName = "REMOVE"
)

// Change is one effective modification of an item. Every stored write
// that changed an item is exactly one Change; the changes of one item come
// in the order they were made (the engine sequence).
type Change struct {
	// Seq is the change's engine sequence (in a table of batched writes,
	// its position: the table's changes counted from 1): it increases
	// along the table's change stream. DynamoDB Streams shows it as the
	// SequenceNumber.
	Seq   uint64
	Event EventName
	// Keys holds the key attributes of the item.
	Keys item.Item
	// New is the item after the change (nil for REMOVE).
	New item.Item
	// Old is the item before the change when the table's view type keeps
	// old images (nil for INSERT).
	Old item.Item
	// Time is when the change was written.
	Time time.Time
	// Size is the size of the change's images and keys, in bytes.
	Size int
	// Expired is set on a REMOVE made by the table's TTL expiry
	// ([Spec.TTLAttribute]) rather than by a writer; DynamoDB Streams
	// shows such a record with the service as its user identity.
	Expired bool
}

// decodeChange turns the message at seq into a Change, with its images
// decoded as proj selects, or nil for messages that change nothing (lock
// markers and their release).
func (t *Table) decodeChange(seq uint64, data []byte, proj projection) (*Change, error) {
	var v version
	if err := decodeVersion(data, &v); err != nil {
		return nil, fmt.Errorf("table %q message %d: %w", t.name, seq, err)
	}
	if v.op != opPut && v.op != opDelete {
		return nil, nil
	}
	return t.newChange(seq, seq, v.op, v.flags, v.time, v.key, v.item, v.old, proj)
}

// newChange makes the Change of a put or delete (op) at position pos of
// the message at seq, with its images decoded as proj selects.
func (t *Table) newChange(seq, pos uint64, op, flags byte, wtime int64, key, newItem, oldItem []byte, proj projection) (*Change, error) {
	k, err := t.schema.DecodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("table %q message %d: key: %w", t.name, seq, err)
	}
	c := &Change{Seq: pos, Keys: k.Item(t.schema), Time: time.Unix(0, wtime), Size: len(newItem) + len(oldItem) + len(key), Expired: flags&flagExpired != 0}
	switch {
	case op == opDelete:
		c.Event = EventRemove
	case flags&flagExisted != 0:
		c.Event = EventModify
	default:
		c.Event = EventInsert
	}
	if op == opPut {
		if c.New, err = proj.decode(newItem); err != nil {
			return nil, err
		}
	}
	if flags&flagOld != 0 {
		if c.Old, err = proj.decode(oldItem); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// StartKind says where a change read starts.
type StartKind uint8

// The starts of a change read, as DynamoDB Streams' shard iterator types.
const (
	// TrimHorizon starts at the oldest change kept.
	TrimHorizon StartKind = iota
	// Latest starts just after the newest change.
	Latest
	// AtSeq starts at the change with sequence Seq (or the next one kept).
	AtSeq
	// AfterSeq starts just after the change with sequence Seq.
	AfterSeq
)

// Position is where a change read starts.
type Position struct {
	Kind StartKind
	Seq  uint64
}

// ParsePosition parses trim_horizon, latest, at:SEQ and after:SEQ.
func ParsePosition(s string) (Position, error) {
	switch {
	case s == "" || s == "trim_horizon":
		return Position{Kind: TrimHorizon}, nil
	case s == "latest":
		return Position{Kind: Latest}, nil
	case strings.HasPrefix(s, "at:") || strings.HasPrefix(s, "after:"):
		kind, num, _ := strings.Cut(s, ":")
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || n == 0 {
			return Position{}, invalid("position %q: bad sequence number", s)
		}
		if kind == "at" {
			return Position{Kind: AtSeq, Seq: n}, nil
		}
		return Position{Kind: AfterSeq, Seq: n}, nil
	}
	return Position{}, invalid("position %q: want trim_horizon, latest, at:SEQ or after:SEQ", s)
}

// String returns the form ParsePosition reads.
func (p Position) String() string {
	switch p.Kind {
	case Latest:
		return "latest"
	case AtSeq:
		return "at:" + strconv.FormatUint(p.Seq, 10)
	case AfterSeq:
		return "after:" + strconv.FormatUint(p.Seq, 10)
	}
	return "trim_horizon"
}

// StreamState is the extent of a table's change stream.
type StreamState struct {
	// FirstSeq is the oldest sequence kept and LastSeq the newest written
	// (0 when nothing was ever written). In a table of batched writes
	// they are positions: FirstSeq is LastSeq+1 when nothing is kept.
	FirstSeq, LastSeq uint64
}

// StreamState returns the extent of the table's change stream.
func (t *Table) StreamState(ctx context.Context) (StreamState, error) {
	if t.batched {
		return t.batchStreamState(ctx)
	}
	s, err := t.m.rjs.Stream(ctx, t.jsName)
	if err != nil {
		return StreamState{}, fmt.Errorf("table %q: %w", t.name, classify(t.m.rc, err))
	}
	st := s.CachedInfo().State
	return StreamState{FirstSeq: st.FirstSeq, LastSeq: st.LastSeq}, nil
}

// Resolve turns a position into the first sequence to read (in a table
// of batched writes, the first position).
func (t *Table) Resolve(ctx context.Context, p Position) (uint64, error) {
	if t.batched && p.Kind == Latest {
		if err := t.syncRead(ctx, true); err != nil {
			return 0, err
		}
		return t.ix.lastPos.Load() + 1, nil
	}
	switch p.Kind {
	case TrimHorizon:
		return 1, nil
	case AtSeq:
		return p.Seq, nil
	case AfterSeq:
		return p.Seq + 1, nil
	case Latest:
		st, err := t.StreamState(ctx)
		if err != nil {
			return 0, err
		}
		return st.LastSeq + 1, nil
	}
	return 0, invalid("position kind %d", p.Kind)
}

// maxReadBytes bounds the images and keys of one ReadChanges, as GetRecords
// answers about 1 MB.
const maxReadBytes = 1 << 20

// ReadChanges returns up to max changes with sequence >= from, and the
// sequence to continue from. It does not wait for changes. It reads the
// engine's messages in batches (one request for up to the max changes
// left), not one request per message.
func (t *Table) ReadChanges(ctx context.Context, from uint64, max int) ([]*Change, uint64, error) {
	if max <= 0 {
		max = 1000
	}
	if t.batched {
		return t.readBatchChanges(ctx, from, max)
	}
	var out []*Change
	bytes := 0
	next, err := t.scanMessages(ctx, from, func() (int, int) { return max - len(out), maxReadBytes - bytes }, func(seq uint64, data []byte) (bool, error) {
		c, err := t.decodeChange(seq, data, projection{})
		if err != nil {
			return false, err
		}
		if c != nil {
			out = append(out, c)
			bytes += c.Size
		}
		return len(out) < max && bytes < maxReadBytes, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, next, nil
}

// scanMessages calls fn for the messages of t's stream from sequence seq
// on, in order, reading them in batches of as many messages and bytes as
// room says are left (one request for each, not one per message), until
// room says none, fn returns false or an error, or the stream ends. It
// returns the sequence after the last message fn was given, or fn's
// error.
func (t *Table) scanMessages(ctx context.Context, seq uint64, room func() (msgs, bytes int), fn func(seq uint64, data []byte) (bool, error)) (uint64, error) {
	for {
		n, b := room()
		if n <= 0 || b <= 0 {
			return seq, nil
		}
		before := seq
		var ferr error
		more := true
		err := directGetBatch(ctx, t.m.rc, t.jsName, t.wildcard, seq, n, b, func(s uint64, data []byte) bool {
			seq = s + 1
			more, ferr = fn(s, data)
			return more && ferr == nil
		})
		if ferr != nil {
			return 0, ferr
		}
		if errors.Is(err, errNoMessage) || !more {
			return seq, nil
		}
		if err != nil {
			return 0, fmt.Errorf("table %q: read changes: %w", t.name, classify(t.m.rc, err))
		}
		if seq == before {
			return seq, nil // an empty batch: nothing more
		}
	}
}

// Subscription delivers a table's changes as they are stored, from a
// position on, without polling.
//
// A subscription whose next change is one the table's index has not yet
// applied reads from the index's in-process feed (feed.go): the index's
// applier puts each change it applies into the subscription's bounded
// buffer ([subscriptionBuffer] changes), so the engine delivers a change
// once per process, not once per subscription. A subscription that starts
// further back, or whose reader falls so far behind that its buffer is
// full, reads from the engine instead (an ordered consumer of its own,
// filling the same buffer and waiting while it is full) until it has
// caught up, then reads from the feed again; either way it gets every
// change once, in order. A slow reader holds back its own subscription,
// never the index or other readers. [Subscription.NextBatch] hands a
// reader that fell behind every change already buffered in one call.
// Changes are decoded by the reader's call, each once, in the reader's
// goroutine, and only as far as the subscription's [ImageAttrs] asks. Stop
// ends the subscription's goroutine and waits for it.
type Subscription struct {
	t      *Table
	ch     chan rawChange // filled by the feed or by the pump; never closed
	stop   chan struct{}
	done   chan struct{} // closed by the pump when it returns
	behind chan struct{} // the feed dropped the subscription (capacity 1)
	cancel context.CancelFunc
	err    error // why the pump ended; read after done is closed
	once   sync.Once

	failMu sync.Mutex
	failed error // a change that did not decode: every later call returns it

	// engineOnly keeps the subscription on its engine consumer (the
	// path before the feed, for tests and benchmarks).
	engineOnly bool
	proj       projection // what of the images the reader's calls decode
	notify     prometheus.Observer
	fallbacks  prometheus.Counter

	// In a table of batched writes: min is the first position to
	// deliver (the entries before it in the first batch read are
	// skipped), and pend holds the changes of a batch that the reader's
	// calls have not yet returned.
	min  uint64
	pmu  sync.Mutex
	pend []*Change

	fd struct { // guarded by t.ix.feed.mu
		attached bool
		// next is the first change the feed gives the subscription while
		// attached; after the feed dropped it, the first change it did not.
		next uint64
	}
}

// subscriptionBuffer bounds the changes a subscription reads ahead of its
// reader.
const subscriptionBuffer = 1024

// Subscribe starts delivering the table's changes from position p, as
// opts say (by default with whole images). Stop must be called to release
// it.
func (t *Table) Subscribe(ctx context.Context, p Position, opts ...SubscribeOption) (*Subscription, error) {
	from, err := t.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	return t.subscribeFrom(ctx, from, false, newSubscribeConfig(opts))
}

func (t *Table) subscribeFrom(ctx context.Context, from uint64, engineOnly bool, cfg subscribeConfig) (*Subscription, error) {
	var first uint64
	if t.batched {
		// from is a position: read from the batch that holds it.
		first = max(from, 1)
		var err error
		if from, err = t.locate(ctx, first); err != nil {
			return nil, err
		}
	}
	s := &Subscription{
		min: first,
		t:   t, ch: make(chan rawChange, subscriptionBuffer), stop: make(chan struct{}), done: make(chan struct{}),
		behind: make(chan struct{}, 1), engineOnly: engineOnly, proj: cfg.proj,
		notify:    t.m.metrics.notify.WithLabelValues(t.name),
		fallbacks: t.m.metrics.feedFallbacks.WithLabelValues(t.name),
	}
	pctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel // before register: the feed cancels it when it closes
	f := &t.ix.feed
	if err := f.register(s); err != nil {
		cancel()
		return nil, err
	}
	var it jetstream.MessagesContext
	if engineOnly || !f.attach(s, from) {
		var err error
		if it, err = t.consume(ctx, from); err != nil {
			f.remove(s)
			cancel()
			return nil, err
		}
	}
	go pprof.Do(pctx, pprof.Labels("component", "table", "table", t.name, "goroutine", "subscription"), func(ctx context.Context) { s.pump(ctx, it, from) })
	return s, nil
}

// consume starts an ordered consumer of the table's stream from sequence
// from.
func (t *Table) consume(ctx context.Context, from uint64) (jetstream.MessagesContext, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{t.wildcard}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	cons, err := t.m.rjs.OrderedConsumer(ctx, t.jsName, cfg)
	if err != nil {
		return nil, fmt.Errorf("table %q: subscribe: %w", t.name, classify(t.m.rc, err))
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(subscriptionBuffer, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("table %q: subscribe: %w", t.name, classify(t.m.rc, err))
	}
	return it, nil
}

// pump runs the subscription: it reads from the engine through it (when
// not nil) until caught up with the feed, waits while attached to the
// feed, and reads from the engine again whenever the feed drops it. It
// records why it ended in s.err and closes s.done.
func (s *Subscription) pump(ctx context.Context, it jetstream.MessagesContext, next uint64) {
	defer close(s.done)
	f := &s.t.ix.feed
	defer f.remove(s)
	for {
		if it != nil {
			var err error
			if next, err = s.readEngine(ctx, it, next); err != nil {
				s.err = err
				return
			}
			it = nil
		}
		select {
		case <-s.behind:
		case <-ctx.Done():
			s.err = s.endErr()
			return
		}
		next = f.resumeAt(s)
		var err error
		if it, err = s.t.consume(ctx, next); err != nil {
			if ctx.Err() != nil {
				err = s.endErr()
			}
			s.err = err
			return
		}
	}
}

// endErr is why the subscription ended when its pump's context is done.
func (s *Subscription) endErr() error {
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	if err := s.t.ix.feed.closedErr(); err != nil {
		return err
	}
	return ErrClosed
}

// readEngine puts the changes from it into s.ch from next on, waiting for
// room, until s attaches to the feed; it stops it and returns the next
// sequence to read.
func (s *Subscription) readEngine(ctx context.Context, it jetstream.MessagesContext, next uint64) (uint64, error) {
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	f := &s.t.ix.feed
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return 0, s.endErr()
			}
			return 0, err
		}
		seq, _, ok := ackInfo(msg.Reply())
		if !ok {
			md, err := msg.Metadata()
			if err != nil {
				return 0, fmt.Errorf("table %q: %w", s.t.name, err)
			}
			seq = md.Sequence.Stream
		}
		if seq < next {
			continue
		}
		next = seq + 1
		if data := msg.Data(); s.t.isChange(data) {
			select {
			case s.ch <- rawChange{seq, data}:
			case <-ctx.Done():
				return 0, s.endErr()
			}
		}
		if !s.engineOnly && f.attach(s, next) {
			return next, nil
		}
	}
}

// isChange reports whether a message is a change (a put or a delete)
// rather than a lock marker or its release; a message that does not
// decode counts as a change, so that its reader reports it.
func (t *Table) isChange(data []byte) bool {
	if t.batched {
		return batchHasChange(data)
	}
	var v version
	if err := decodeVersion(data, &v); err != nil {
		return true
	}
	return v.op == opPut || v.op == opDelete
}

// Next blocks until the next change is stored (or ctx is done, or the
// subscription stopped: then it returns ErrClosed). After an error other
// than ctx's, every later call returns that error.
func (s *Subscription) Next(ctx context.Context) (*Change, error) {
	if err := s.stoppedOrFailed(); err != nil {
		return nil, err
	}
	if c := s.pending(); c != nil {
		return c, nil
	}
	for {
		var r rawChange
		select {
		case r = <-s.ch:
		case <-s.stop:
			return nil, ErrClosed
		case <-s.done:
			// The pump may have buffered changes before it ended.
			select {
			case r = <-s.ch:
			default:
				return nil, s.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c, err := s.decode(r)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return c, nil
		}
	}
}

// NextBatch blocks until at least one change is stored and returns it with
// the changes already read after it, at most limit in all (or nil and the
// error Next would return). Changes come in order, as from Next.
func (s *Subscription) NextBatch(ctx context.Context, limit int) ([]*Change, error) {
	c, err := s.Next(ctx)
	if err != nil {
		return nil, err
	}
	out := []*Change{c}
	for len(out) < limit {
		if c := s.pending(); c != nil {
			out = append(out, c)
			continue
		}
		select {
		case r := <-s.ch:
			c, err := s.decode(r)
			if err != nil {
				return out, nil // the next call returns err
			}
			if c != nil {
				out = append(out, c)
			}
		default:
			return out, nil
		}
	}
	return out, nil
}

func (s *Subscription) stoppedOrFailed() error {
	select {
	case <-s.stop:
		return ErrClosed
	default:
	}
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failed
}

// decode decodes a buffered change and counts its delivery; a change that
// does not decode fails the subscription.
func (s *Subscription) decode(r rawChange) (*Change, error) {
	var c *Change
	var err error
	if s.t.batched {
		c, err = s.decodeBatch(r)
	} else {
		c, err = s.t.decodeChange(r.seq, r.data, s.proj)
	}
	if err != nil {
		s.failMu.Lock()
		if s.failed == nil {
			s.failed = err
		}
		s.failMu.Unlock()
		s.cancel()
		return nil, err
	}
	if c != nil {
		s.notify.Observe(max(0, time.Since(c.Time).Seconds()))
	}
	return c, nil
}

// decodeBatch decodes a buffered batch of a table of batched writes: it
// returns its first change (nil when it holds none from s.min on) and
// keeps the others for the next calls.
func (s *Subscription) decodeBatch(r rawChange) (*Change, error) {
	cs, err := s.t.decodeBatchChanges(r.seq, r.data, s.proj, s.min, nil)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	for _, c := range cs[1:] {
		s.notify.Observe(max(0, time.Since(c.Time).Seconds()))
	}
	s.pmu.Lock()
	s.pend = append(s.pend, cs[1:]...)
	s.pmu.Unlock()
	return cs[0], nil
}

// pending returns the next change of a batch already decoded, or nil.
func (s *Subscription) pending() *Change {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if len(s.pend) == 0 {
		return nil
	}
	c := s.pend[0]
	s.pend[0] = nil
	s.pend = s.pend[1:]
	if len(s.pend) == 0 {
		s.pend = nil
	}
	return c
}

// Stop ends the subscription and waits for its reading goroutine; a
// blocked Next returns ErrClosed. Stop is idempotent.
func (s *Subscription) Stop() {
	s.once.Do(func() {
		close(s.stop)
		s.cancel()
	})
	<-s.done
}

// Follow loads the table: it calls load for every item (in key order, from
// a consistent snapshot of the index), then returns a Subscription of the
// changes made after that snapshot. A lookup table kept in memory is
// Follow plus applying each change. load must not keep the items it is
// given past the call if it modifies them. opts apply to the items loaded
// as to the changes' images: with [ImageAttrs], both hold the named
// attributes only.
func (t *Table) Follow(ctx context.Context, load func(item.Item) error, opts ...SubscribeOption) (*Subscription, error) {
	cfg := newSubscribeConfig(opts)
	if err := t.ix.waitFor(ctx, t.lastWrite.Load()); err != nil {
		return nil, err
	}
	tree, seq, pos := t.ix.snapshot()
	var ferr error
	tree.Ascend(func(s slot) bool {
		e := s.e
		b, err := t.visible(ctx, e)
		if err != nil {
			ferr = err
			return false
		}
		it, err := cfg.proj.decode(b)
		if err != nil {
			ferr = err
			return false
		}
		if it != nil {
			if err := load(it); err != nil {
				ferr = err
				return false
			}
		}
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	if t.batched {
		seq = pos // the changes after the snapshot, by position
	}
	return t.subscribeFrom(ctx, seq+1, false, cfg)
}

// A named reader keeps its position in a table's change stream in the
// engine (the last change it processed), so that it resumes there after a
// restart.

var readerNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Reader is a durable named reader of a table's changes.
type Reader struct {
	t    *Table
	name string
}

// Reader returns the named reader of the table (names are 1-64 of a-z,
// A-Z, 0-9, '_', '-'). It exists once it commits.
func (t *Table) Reader(name string) (*Reader, error) {
	if !readerNameRE.MatchString(name) {
		return nil, invalid("reader name %q: want 1-64 characters of a-z, A-Z, 0-9, '_', '-'", name)
	}
	return &Reader{t: t, name: name}, nil
}

func (m *Manager) positions(ctx context.Context) (jetstream.KeyValue, error) {
	m.posMu.Lock()
	defer m.posMu.Unlock()
	if m.pos != nil {
		return m.pos, nil
	}
	kv, err := m.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      m.eng.Name("kv", "table-positions"),
		Description: "pricestream: committed positions of named table change readers",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("table: positions bucket: %w", classify(m.nc, err))
	}
	m.pos = kv
	return kv, nil
}

func (r *Reader) key() string { return regKey(r.t.name) + "." + r.name }

// Checkpoint returns the sequence of the last change the reader committed;
// ok is false when it has committed none.
func (r *Reader) Checkpoint(ctx context.Context) (seq uint64, ok bool, err error) {
	kv, err := r.t.m.positions(ctx)
	if err != nil {
		return 0, false, err
	}
	e, err := kv.Get(ctx, r.key())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reader %q checkpoint: %w", r.name, classify(r.t.m.nc, err))
	}
	seq, err = strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("reader %q checkpoint: %w", r.name, err)
	}
	return seq, true, nil
}

// Commit records seq as the last change processed. It is durable when
// Commit returns.
func (r *Reader) Commit(ctx context.Context, seq uint64) error {
	kv, err := r.t.m.positions(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, r.key(), strconv.AppendUint(nil, seq, 10)); err != nil {
		return fmt.Errorf("reader %q commit: %w", r.name, classify(r.t.m.nc, err))
	}
	return nil
}

// Start returns where the reader resumes: just after its checkpoint, or at
// def when it has none.
func (r *Reader) Start(ctx context.Context, def Position) (Position, error) {
	seq, ok, err := r.Checkpoint(ctx)
	if err != nil {
		return Position{}, err
	}
	if ok {
		return Position{Kind: AfterSeq, Seq: seq}, nil
	}
	return def, nil
}

func (m *Manager) deletePositions(ctx context.Context, table string) error {
	kv, err := m.positions(ctx)
	if err != nil {
		return err
	}
	l, err := kv.ListKeysFiltered(ctx, regKey(table)+".*")
	if err != nil {
		return err
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := kv.Purge(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
