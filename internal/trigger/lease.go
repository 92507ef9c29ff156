package trigger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leases let several processes run one engine's triggers without running a
// partition twice: a process runs a trigger partition only while it holds
// its lease, an entry in a key-value bucket ("NAME.PARTITION") naming the
// owner and an expiry. The owner renews it every third of the TTL with
// compare-and-set on the entry's revision; another process takes it over
// once it has expired. Expiry is wall-clock time, so the processes' clocks
// must agree to well within the TTL.
type leases struct {
	kv    jetstream.KeyValue
	owner string
	ttl   time.Duration
}

type leaseValue struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// newOwnerID names this process: host, pid and a random suffix (a
// restarted process is a new owner).
func newOwnerID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

func (l *leases) value() []byte {
	b, _ := json.Marshal(leaseValue{Owner: l.owner, Expires: time.Now().Add(l.ttl).UTC()})
	return b
}

func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

// acquire takes the lease of key if it is free, expired or already ours.
// It returns the entry's revision, or the current owner when the lease is
// held by another process.
func (l *leases) acquire(ctx context.Context, key string) (rev uint64, holder string, err error) {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		rev, err = l.kv.Create(ctx, key, l.value())
		if isConflict(err) {
			return 0, "another process", nil
		}
		if err != nil {
			return 0, "", fmt.Errorf("trigger: lease %s: %w", key, err)
		}
		return rev, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("trigger: lease %s: %w", key, err)
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) == nil && v.Owner != l.owner && time.Now().Before(v.Expires) {
		return 0, v.Owner, nil
	}
	rev, err = l.kv.Update(ctx, key, l.value(), e.Revision())
	if isConflict(err) {
		return 0, "another process", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("trigger: lease %s: %w", key, err)
	}
	return rev, "", nil
}

// errLeaseLost is the cause of a partition's stop when another process
// took its lease over: the runner then stops at once, without draining,
// since the new owner already delivers from the last checkpoint.
var errLeaseLost = errors.New("trigger: partition lease lost to another process")

// renew extends the lease held at revision rev; it fails when the lease was
// taken over.
func (l *leases) renew(ctx context.Context, key string, rev uint64) (uint64, error) {
	return l.kv.Update(ctx, key, l.value(), rev)
}

// release gives the lease up, unless it was taken over meanwhile.
func (l *leases) release(ctx context.Context, key string, rev uint64) {
	_ = l.kv.Delete(ctx, key, jetstream.LastRevision(rev))
}

// holder returns who holds the lease of key and until when ("" when none).
func (l *leases) holder(ctx context.Context, key string) (string, time.Time) {
	e, err := l.kv.Get(ctx, key)
	if err != nil {
		return "", time.Time{}
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) != nil || time.Now().After(v.Expires) {
		return "", time.Time{}
	}
	return v.Owner, v.Expires
}

// runPartition runs a partition's runner while this process holds its
// lease: it waits (state "standby") while another process holds it, and
// stops the runner (which commits its checkpoint) if the lease is lost.
func (m *Manager) runPartition(ctx context.Context, r *runner) {
	key := cpKey(r.name, r.part)
	for ctx.Err() == nil {
		rev, holder, err := m.lease.acquire(ctx, key)
		if err != nil || holder != "" {
			if err != nil {
				r.status.set("error", err)
			} else {
				r.status.set("standby", fmt.Errorf("partition held by %s", holder))
			}
			if sleep(ctx, m.cfg.LeaseTTL/3) != nil {
				return
			}
			continue
		}
		lctx, cancel := context.WithCancelCause(ctx)
		var wg sync.WaitGroup
		var mu sync.Mutex // guards rev between the renewer and the release
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(m.cfg.LeaseTTL / 3)
			defer t.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-t.C:
				}
				mu.Lock()
				next, err := m.lease.renew(lctx, key, rev)
				if err == nil {
					rev = next
				}
				mu.Unlock()
				if err != nil && lctx.Err() == nil {
					if isConflict(err) {
						r.logger.Warn("trigger partition lease lost to another process; stopping here", "err", err)
						cancel(errLeaseLost)
						return
					}
					r.logger.Warn("trigger partition lease not renewed; retrying", "err", err)
				}
			}
		}()
		r.run(lctx)
		cancel(nil)
		wg.Wait()
		mu.Lock()
		m.lease.release(context.WithoutCancel(ctx), key, rev)
		mu.Unlock()
	}
}
