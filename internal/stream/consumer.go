package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A named consumer keeps, per partition, the position of the last record it
// has processed (its checkpoint) in the engine, so that a reader resumes
// there after a restart, and so that its lag can be measured. Records are
// read with [Stream.Read] or [Stream.Subscribe] from [Consumer.Start].

type consumerKey struct{ stream, name string }

var consumerNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Consumer is a durable named reader of a stream.
type Consumer struct {
	m    *Manager
	s    *Stream
	name string
}

// Checkpoint is a consumer's committed place in a partition: the last
// record it processed.
type Checkpoint struct {
	Position  Position  `json:"-"`
	Offset    uint64    `json:"offset"`
	Arrival   time.Time `json:"arrival"`
	Committed time.Time `json:"committed"`
}

type checkpointJSON struct {
	Seq       uint64 `json:"seq"`
	Index     uint32 `json:"index"`
	Offset    uint64 `json:"offset"`
	Arrival   int64  `json:"arrival_ns"`
	Committed int64  `json:"committed_ns"`
}

// Consumer returns the named consumer of a stream, creating it on first use
// (it exists once it commits). Names are 1-64 of a-z, A-Z, 0-9, '_', '-'.
func (m *Manager) Consumer(ctx context.Context, stream, name string) (*Consumer, error) {
	if !consumerNameRE.MatchString(name) {
		return nil, fmt.Errorf("%w: consumer name %q: want 1-64 characters of a-z, A-Z, 0-9, '_', '-'", ErrInvalidArgument, name)
	}
	s, err := m.Open(ctx, stream)
	if err != nil {
		return nil, err
	}
	k := consumerKey{stream, name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.mu.consumers[k]; c != nil && c.s == s {
		return c, nil
	}
	c := &Consumer{m: m, s: s, name: name}
	m.mu.consumers[k] = c
	return c, nil
}

// Name returns the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Stream returns the stream the consumer reads.
func (c *Consumer) Stream() *Stream { return c.s }

func (m *Manager) positions(ctx context.Context) (jetstream.KeyValue, error) {
	m.posMu.Lock()
	defer m.posMu.Unlock()
	if m.pos != nil {
		return m.pos, nil
	}
	kv, err := m.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      m.eng.Name("kv", "positions"),
		Description: "pricestream: committed positions of named stream consumers",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: positions bucket: %w", classify(m.nc, err))
	}
	m.pos = kv
	return kv, nil
}

// keyToken makes a stream name usable in a key-value key.
func keyToken(stream string) string { return strings.ReplaceAll(stream, ".", "=") }

func (c *Consumer) key(part int) string {
	return keyToken(c.s.name) + "." + c.name + "." + strconv.Itoa(part)
}

// Checkpoint returns the partition's checkpoint; ok is false when the
// consumer has committed nothing there.
func (c *Consumer) Checkpoint(ctx context.Context, part int) (cp Checkpoint, ok bool, err error) {
	if err := c.s.checkPartition(part); err != nil {
		return cp, false, err
	}
	kv, err := c.m.positions(ctx)
	if err != nil {
		return cp, false, err
	}
	e, err := kv.Get(ctx, c.key(part))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return cp, false, nil
	}
	if err != nil {
		return cp, false, fmt.Errorf("consumer %q checkpoint: %w", c.name, classify(c.m.nc, err))
	}
	var j checkpointJSON
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return cp, false, fmt.Errorf("consumer %q checkpoint: %w", c.name, err)
	}
	return Checkpoint{Position: Position{Seq: j.Seq, Index: j.Index}, Offset: j.Offset, Arrival: time.Unix(0, j.Arrival), Committed: time.Unix(0, j.Committed)}, true, nil
}

// Commit records r as the last record processed in its partition. The write
// is durable when Commit returns.
func (c *Consumer) Commit(ctx context.Context, r *Record) error {
	if err := c.s.checkPartition(r.Partition); err != nil {
		return err
	}
	kv, err := c.m.positions(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(checkpointJSON{Seq: r.Position.Seq, Index: r.Position.Index, Offset: r.Offset, Arrival: r.Arrival.UnixNano(), Committed: time.Now().UnixNano()})
	if _, err := kv.Put(ctx, c.key(r.Partition), b); err != nil {
		return fmt.Errorf("consumer %q commit: %w", c.name, classify(c.m.nc, err))
	}
	return nil
}

// CommitPosition commits the record at position p of partition part, which
// must exist.
func (c *Consumer) CommitPosition(ctx context.Context, part int, p Position) error {
	res, err := c.s.Read(ctx, part, p, ReadOptions{MaxRecords: 1})
	if err != nil {
		return err
	}
	if len(res.Records) == 0 || res.Records[0].Position != p {
		return fmt.Errorf("%w: no record at sequence number %s in partition %d", ErrInvalidArgument, p.SequenceNumber(part), part)
	}
	return c.Commit(ctx, &res.Records[0])
}

// Start returns where the consumer resumes in a partition: just after its
// checkpoint, or at def when it has none.
func (c *Consumer) Start(ctx context.Context, part int, def Start) (Position, error) {
	cp, ok, err := c.Checkpoint(ctx, part)
	if err != nil {
		return Position{}, err
	}
	if ok {
		return cp.Position.Next(), nil
	}
	return c.s.Resolve(ctx, part, def)
}

// Lag is how far a consumer is behind in one partition.
type Lag struct {
	Partition int `json:"partition"`
	// Records stored in the partition after the checkpoint (all stored
	// records when there is none).
	Records uint64 `json:"records"`
	// Millis between the arrival of the checkpoint's record and of the
	// newest record; 0 when caught up.
	Millis     int64       `json:"millis_behind"`
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// Lag returns the consumer's lag in every partition.
func (c *Consumer) Lag(ctx context.Context) ([]Lag, error) {
	out := make([]Lag, c.s.Partitions())
	for part := range out {
		l := Lag{Partition: part}
		tip, err := c.s.Tip(ctx, part)
		if err != nil {
			return nil, err
		}
		cp, ok, err := c.Checkpoint(ctx, part)
		if err != nil {
			return nil, err
		}
		var done uint64
		var from time.Time
		if ok {
			l.Checkpoint = &cp
			done, from = cp.Offset+1, cp.Arrival
		} else {
			first, err := c.s.Read(ctx, part, Position{}, ReadOptions{MaxRecords: 1})
			if err != nil {
				return nil, err
			}
			if len(first.Records) > 0 {
				done, from = first.Records[0].Offset, first.Records[0].Arrival
			}
		}
		if tip.Records > done {
			l.Records = tip.Records - done
			l.Millis = max(0, tip.LastArrival.Sub(from).Milliseconds())
		}
		out[part] = l
	}
	return out, nil
}

// Consumers returns the names of the consumers that have committed in the
// stream.
func (m *Manager) Consumers(ctx context.Context, stream string) ([]string, error) {
	if err := ValidateName(stream); err != nil {
		return nil, err
	}
	kv, err := m.positions(ctx)
	if err != nil {
		return nil, err
	}
	l, err := kv.ListKeysFiltered(ctx, keyToken(stream)+".*.*")
	if err != nil {
		return nil, fmt.Errorf("list consumers: %w", classify(m.nc, err))
	}
	seen := map[string]bool{}
	for k := range l.Keys() {
		parts := strings.Split(k, ".")
		if len(parts) == 3 {
			seen[parts[1]] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// DeleteConsumer forgets a consumer's checkpoints.
func (m *Manager) DeleteConsumer(ctx context.Context, stream, name string) error {
	c, err := m.Consumer(ctx, stream, name)
	if err != nil {
		return err
	}
	kv, err := m.positions(ctx)
	if err != nil {
		return err
	}
	found := false
	for part := range c.s.Partitions() {
		if _, err := kv.Get(ctx, c.key(part)); err == nil {
			found = true
			if err := kv.Purge(ctx, c.key(part)); err != nil {
				return fmt.Errorf("delete consumer %q: %w", name, classify(m.nc, err))
			}
		}
	}
	m.mu.Lock()
	delete(m.mu.consumers, consumerKey{stream, name})
	m.mu.Unlock()
	if !found {
		return fmt.Errorf("%w: consumer %q of stream %q", ErrNotFound, name, stream)
	}
	return nil
}

func (m *Manager) deletePositions(ctx context.Context, stream string) error {
	kv, err := m.positions(ctx)
	if err != nil {
		return err
	}
	l, err := kv.ListKeysFiltered(ctx, keyToken(stream)+".*.*")
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
	m.mu.Lock()
	for k := range m.mu.consumers {
		if k.stream == stream {
			delete(m.mu.consumers, k)
		}
	}
	m.mu.Unlock()
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
