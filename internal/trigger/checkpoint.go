package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Checkpoint is a trigger's committed place in one partition: a record
// such that it and every record before it are done (processed, filtered
// or sent to the destination), just before the oldest one that is not
// (lanes finish out of read order). A restart delivers from the record
// after it.
type Checkpoint struct {
	// Source the checkpoint belongs to; a checkpoint of another source (the
	// spec's source changed) is ignored.
	Source string `json:"source"`
	// Generation is the creation time (Unix ns) of the trigger that wrote
	// it: a trigger deleted and created again under the same name starts
	// over even if a stopping runner wrote a checkpoint after the delete.
	Generation     int64  `json:"generation"`
	SequenceNumber string `json:"sequence_number"`
	// SourceCreated is the creation time (Unix ns) of the source the
	// checkpoint was taken on, when the source knows it ([Created]): a
	// source deleted and created again under its name stores its records
	// at sequences the checkpoint may have passed.
	SourceCreated int64     `json:"source_created,omitempty"`
	Offset        uint64    `json:"offset"`
	Arrival       time.Time `json:"arrival"`
	Committed     time.Time `json:"committed"`
}

// checkpoints keeps checkpoints in a key-value bucket, one key per trigger
// and partition ("NAME.PART"). Puts are durable (the bucket is file
// storage, fsynced as the engine is configured) when they return.
type checkpoints struct {
	kv jetstream.KeyValue
}

func cpKey(trigger string, part int) string { return trigger + "." + strconv.Itoa(part) }

func (c *checkpoints) get(ctx context.Context, trigger string, part int) (Checkpoint, bool, error) {
	e, err := c.kv.Get(ctx, cpKey(trigger, part))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("trigger %q checkpoint %d: %w", trigger, part, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(e.Value(), &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("trigger %q checkpoint %d: %w", trigger, part, err)
	}
	return cp, true, nil
}

func (c *checkpoints) put(ctx context.Context, trigger string, part int, cp Checkpoint) error {
	b, _ := json.Marshal(cp)
	if _, err := c.kv.Put(ctx, cpKey(trigger, part), b); err != nil {
		return fmt.Errorf("trigger %q commit partition %d: %w", trigger, part, err)
	}
	return nil
}

// purge forgets every checkpoint of a trigger.
func (c *checkpoints) purge(ctx context.Context, trigger string) error {
	l, err := c.kv.ListKeysFiltered(ctx, trigger+".*")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return err
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := c.kv.Purge(ctx, k); err != nil {
			return fmt.Errorf("trigger %q: forget checkpoint %s: %w", trigger, k, err)
		}
	}
	return nil
}

// committer writes a partition's checkpoint in the background so that the
// runner does not wait for the engine between batches. It keeps only the
// newest checkpoint (commits coalesce); flush writes it synchronously.
type committer struct {
	cps      *checkpoints
	trigger  string
	part     int
	interval time.Duration // least time between two writes
	onError  func(error)
	// sync, when set (the function is a Syncer), makes the outputs of the
	// batches a checkpoint passes durable before it is written.
	sync func(ctx context.Context) error

	mu struct {
		sync.Mutex
		next  *Checkpoint // newest not yet written
		wrote string      // sequence number last written
	}
	wake chan struct{} // capacity 1
}

func newCommitter(cps *checkpoints, trigger string, part int, interval time.Duration, sync func(context.Context) error, onError func(error)) *committer {
	return &committer{cps: cps, trigger: trigger, part: part, interval: interval, sync: sync, onError: onError, wake: make(chan struct{}, 1)}
}

// set makes cp the checkpoint to write next. It does not block.
func (c *committer) set(cp Checkpoint) {
	c.mu.Lock()
	c.mu.next = &cp
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run writes checkpoints as they are set until ctx is done, at most one
// per interval: a checkpoint write is an engine write (fsynced by
// default), and writing one per batch would compete with the records'
// own writes for the disk.
func (c *committer) run(ctx context.Context) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		if t != nil {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		err := c.flush(ctx)
		if c.interval > 0 {
			if t == nil {
				t = time.NewTimer(c.interval)
			} else {
				t.Reset(c.interval)
			}
		}
		if err != nil && ctx.Err() == nil {
			c.onError(err)
			// The next set, or the final flush, writes it again.
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}
}

// flush writes the newest checkpoint if it is not written yet.
func (c *committer) flush(ctx context.Context) error {
	c.mu.Lock()
	cp := c.mu.next
	c.mu.next = nil
	c.mu.Unlock()
	if cp == nil {
		return nil
	}
	keep := func() {
		c.mu.Lock()
		if c.mu.next == nil {
			c.mu.next = cp
		}
		c.mu.Unlock()
	}
	if c.sync != nil {
		if err := c.sync(ctx); err != nil {
			keep()
			return fmt.Errorf("sync the function's outputs: %w", err)
		}
	}
	cp.Committed = time.Now().UTC()
	if err := c.cps.put(ctx, c.trigger, c.part, *cp); err != nil {
		keep()
		return err
	}
	c.mu.Lock()
	c.mu.wrote = cp.SequenceNumber
	c.mu.Unlock()
	return nil
}
