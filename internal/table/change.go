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
	// Seq is the change's engine sequence: it increases along the table's
	// change stream. DynamoDB Streams shows it as the SequenceNumber.
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
}

// decodeChange turns the message at seq into a Change, or nil for messages
// that change nothing (lock markers and their release).
func (t *Table) decodeChange(seq uint64, data []byte) (*Change, error) {
	var v version
	if err := decodeVersion(data, &v); err != nil {
		return nil, fmt.Errorf("table %q message %d: %w", t.name, seq, err)
	}
	if v.op != opPut && v.op != opDelete {
		return nil, nil
	}
	k, err := t.schema.DecodeKey(v.key)
	if err != nil {
		return nil, fmt.Errorf("table %q message %d: key: %w", t.name, seq, err)
	}
	c := &Change{Seq: seq, Keys: k.Item(t.schema), Time: time.Unix(0, v.time), Size: len(v.item) + len(v.old) + len(v.key)}
	switch {
	case v.op == opDelete:
		c.Event = EventRemove
	case v.flags&flagExisted != 0:
		c.Event = EventModify
	default:
		c.Event = EventInsert
	}
	if v.op == opPut {
		if c.New, err = decodeItem(v.item); err != nil {
			return nil, err
		}
	}
	if v.flags&flagOld != 0 {
		if c.Old, err = decodeItem(v.old); err != nil {
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
	// (0 when nothing was ever written).
	FirstSeq, LastSeq uint64
}

// StreamState returns the extent of the table's change stream.
func (t *Table) StreamState(ctx context.Context) (StreamState, error) {
	s, err := t.m.rjs.Stream(ctx, t.jsName)
	if err != nil {
		return StreamState{}, fmt.Errorf("table %q: %w", t.name, classify(t.m.rc, err))
	}
	st := s.CachedInfo().State
	return StreamState{FirstSeq: st.FirstSeq, LastSeq: st.LastSeq}, nil
}

// Resolve turns a position into the first sequence to read.
func (t *Table) Resolve(ctx context.Context, p Position) (uint64, error) {
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
	var out []*Change
	next := from
	bytes := 0
	var derr error
	for len(out) < max && bytes < maxReadBytes {
		before := next
		err := directGetBatch(ctx, t.m.rc, t.jsName, t.wildcard, next, max-len(out), maxReadBytes-bytes, func(seq uint64, data []byte) bool {
			next = seq + 1
			c, err := t.decodeChange(seq, data)
			if err != nil {
				derr = err
				return false
			}
			if c != nil {
				out = append(out, c)
				bytes += c.Size
			}
			return len(out) < max && bytes < maxReadBytes
		})
		if derr != nil {
			return nil, 0, derr
		}
		if errors.Is(err, errNoMessage) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("table %q: read changes: %w", t.name, classify(t.m.rc, err))
		}
		if next == before {
			break // an empty batch: nothing more
		}
	}
	return out, next, nil
}

// Subscription delivers a table's changes as they are stored, pushed by
// the engine (no polling), from a position on.
//
// A goroutine owned by the subscription reads the engine's messages and
// decodes them into a bounded buffer ([subscriptionBuffer] changes) while
// the reader works on earlier ones, so that [Subscription.NextBatch] can
// hand a reader that fell behind every change already read in one call.
// When the buffer is full the goroutine waits, and the engine's pull
// requests stop with it: a slow reader holds back its subscription, never
// the engine or other readers. Stop ends the goroutine and waits for it.
type Subscription struct {
	t    *Table
	it   jetstream.MessagesContext
	ch   chan *Change
	stop chan struct{}
	done chan struct{} // closed by the pump when it returns
	err  error         // why the pump ended; read after done is closed
	once sync.Once
}

// subscriptionBuffer bounds the changes a subscription reads ahead of its
// reader.
const subscriptionBuffer = 1024

// Subscribe starts delivering the table's changes from position p. Stop
// must be called to release it.
func (t *Table) Subscribe(ctx context.Context, p Position) (*Subscription, error) {
	from, err := t.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	return t.subscribeFrom(ctx, from)
}

func (t *Table) subscribeFrom(ctx context.Context, from uint64) (*Subscription, error) {
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
	s := &Subscription{t: t, it: it, ch: make(chan *Change, subscriptionBuffer), stop: make(chan struct{}), done: make(chan struct{})}
	go pprof.Do(context.Background(), pprof.Labels("component", "table", "table", t.name, "goroutine", "subscription"), func(context.Context) { s.pump(from) })
	return s, nil
}

// pump reads and decodes the engine's messages into s.ch until the
// iterator stops or fails; it records why in s.err and closes s.done.
func (s *Subscription) pump(next uint64) {
	defer close(s.done)
	for {
		msg, err := s.it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				err = ErrClosed
			}
			s.err = err
			return
		}
		seq, _, ok := ackInfo(msg.Reply())
		if !ok {
			md, err := msg.Metadata()
			if err != nil {
				s.err = fmt.Errorf("table %q: %w", s.t.name, err)
				return
			}
			seq = md.Sequence.Stream
		}
		if seq < next {
			continue
		}
		next = seq + 1
		c, err := s.t.decodeChange(seq, msg.Data())
		if err != nil {
			s.err = err
			return
		}
		if c == nil {
			continue
		}
		select {
		case s.ch <- c:
		case <-s.stop:
			s.err = ErrClosed
			return
		}
	}
}

// Next blocks until the next change is stored (or ctx is done, or the
// subscription stopped: then it returns ErrClosed). After an error other
// than ctx's, every later call returns that error.
func (s *Subscription) Next(ctx context.Context) (*Change, error) {
	select {
	case c := <-s.ch:
		s.delivered(c)
		return c, nil
	case <-s.stop:
		return nil, ErrClosed
	case <-s.done:
		// The pump may have buffered changes before it ended.
		select {
		case c := <-s.ch:
			s.delivered(c)
			return c, nil
		default:
			return nil, s.err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
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
		select {
		case c := <-s.ch:
			s.delivered(c)
			out = append(out, c)
		default:
			return out, nil
		}
	}
	return out, nil
}

func (s *Subscription) delivered(c *Change) {
	s.t.m.metrics.notify.WithLabelValues(s.t.name).Observe(max(0, time.Since(c.Time).Seconds()))
}

// Stop ends the subscription and waits for its reading goroutine; a
// blocked Next returns ErrClosed. Stop is idempotent.
func (s *Subscription) Stop() {
	s.once.Do(func() {
		close(s.stop)
		s.it.Stop()
	})
	<-s.done
}

// Follow loads the table: it calls load for every item (in key order, from
// a consistent snapshot of the index), then returns a Subscription of the
// changes made after that snapshot. A lookup table kept in memory is
// Follow plus applying each change. load must not keep the items it is
// given past the call if it modifies them.
func (t *Table) Follow(ctx context.Context, load func(item.Item) error) (*Subscription, error) {
	if err := t.ix.waitFor(ctx, t.lastWrite.Load()); err != nil {
		return nil, err
	}
	tree, seq := t.ix.snapshot()
	var ferr error
	tree.Ascend(func(s slot) bool {
		e := s.e
		b, err := t.visible(ctx, e)
		if err != nil {
			ferr = err
			return false
		}
		it, err := decodeItem(b)
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
	return t.subscribeFrom(ctx, seq+1)
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
