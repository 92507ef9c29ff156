package pricing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/engine"
)

// Controls are the run-time switches of pricing: a global kill switch that
// stops every price change, and per-product freezes. They live in the
// engine, so a switch set through any process binds every process; each
// Controls follows the bucket and answers from memory.
type Controls struct {
	eng    *engine.Engine
	kv     jetstream.KeyValue
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logger *slog.Logger

	mu struct {
		sync.RWMutex
		kill   *Control
		frozen map[string]*Control
	}
	readyc chan struct{}
	ready  sync.Once
}

// Control is one switch that is on: when and why it was set.
type Control struct {
	Product string    `json:"product,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"`
}

// ControlState is the state of every switch.
type ControlState struct {
	KillSwitch *Control   `json:"kill_switch"`
	Frozen     []*Control `json:"frozen"`
}

// OpenControls opens the controls of an engine and follows them until
// Close.
func OpenControls(ctx context.Context, eng *engine.Engine, logger *slog.Logger) (*Controls, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kv, err := eng.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      eng.Name("kv", "pricing"),
		Description: "pricestream: pricing kill switch and product freezes",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("pricing: controls bucket: %w", err)
	}
	c := &Controls{eng: eng, kv: kv, logger: logger.With("component", "pricing"), readyc: make(chan struct{})}
	c.mu.frozen = map[string]*Control{}
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("pricing: watch controls: %w", err)
	}
	c.wg.Add(1)
	go c.follow(wctx, w)
	select {
	case <-c.readyc:
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

func (c *Controls) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer c.wg.Done()
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				c.ready.Do(func() { close(c.readyc) })
				continue
			}
			c.apply(e.Key(), e.Value(), e.Operation() == jetstream.KeyValuePut)
		}
	}
}

func (c *Controls) apply(key string, value []byte, put bool) {
	var ctl *Control
	if put {
		ctl = new(Control)
		if err := json.Unmarshal(value, ctl); err != nil {
			c.logger.Warn("ignoring a corrupt pricing control", "key", key, "err", err)
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case key == "kill_switch":
		c.mu.kill = ctl
	case strings.HasPrefix(key, "freeze."):
		if ctl == nil {
			delete(c.mu.frozen, productOfKey(key))
		} else {
			c.mu.frozen[productOfKey(key)] = ctl
		}
	}
}

// Close stops following the controls. It is idempotent.
func (c *Controls) Close() {
	c.cancel()
	c.wg.Wait()
}

var plainKey = regexp.MustCompile(`^[-_a-zA-Z0-9]{1,200}$`)

// freezeKey names a product's freeze in the bucket: the id itself when it
// is a plain token, otherwise its base64url form after a '='.
func freezeKey(product string) string {
	if plainKey.MatchString(product) {
		return "freeze." + product
	}
	return "freeze.=" + base64.RawURLEncoding.EncodeToString([]byte(product))
}

func productOfKey(key string) string {
	p := strings.TrimPrefix(key, "freeze.")
	if rest, ok := strings.CutPrefix(p, "="); ok {
		if b, err := base64.RawURLEncoding.DecodeString(rest); err == nil {
			return string(b)
		}
	}
	return p
}

// SetKillSwitch turns the kill switch on or off.
func (c *Controls) SetKillSwitch(ctx context.Context, on bool, reason, by string) error {
	if !on {
		if err := c.kv.Delete(ctx, "kill_switch"); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("pricing: kill switch: %w", err)
		}
		c.apply("kill_switch", nil, false)
		return nil
	}
	b, _ := json.Marshal(Control{Reason: reason, At: time.Now().UTC(), By: by})
	if _, err := c.kv.Put(ctx, "kill_switch", b); err != nil {
		return fmt.Errorf("pricing: kill switch: %w", err)
	}
	if err := c.eng.DurableKV(ctx, c.kv); err != nil {
		return fmt.Errorf("pricing: kill switch: %w", err)
	}
	c.apply("kill_switch", b, true)
	return nil
}

// Freeze freezes a product's price (or unfreezes it).
func (c *Controls) Freeze(ctx context.Context, product string, frozen bool, reason, by string) error {
	if product == "" {
		return errors.New("pricing: freeze: no product")
	}
	key := freezeKey(product)
	if !frozen {
		if err := c.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("pricing: unfreeze %s: %w", product, err)
		}
		c.apply(key, nil, false)
		return nil
	}
	b, _ := json.Marshal(Control{Product: product, Reason: reason, At: time.Now().UTC(), By: by})
	if _, err := c.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("pricing: freeze %s: %w", product, err)
	}
	if err := c.eng.DurableKV(ctx, c.kv); err != nil {
		return fmt.Errorf("pricing: freeze %s: %w", product, err)
	}
	c.apply(key, b, true)
	return nil
}

// Blocked returns why changes of a product are switched off (ReasonKillSwitch
// or ReasonFrozen), or "".
func (c *Controls) Blocked(product string) string {
	if c == nil {
		return ""
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mu.kill != nil {
		return ReasonKillSwitch
	}
	if c.mu.frozen[product] != nil {
		return ReasonFrozen
	}
	return ""
}

// State returns every switch that is on.
func (c *Controls) State() ControlState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := ControlState{KillSwitch: c.mu.kill, Frozen: []*Control{}}
	for _, f := range c.mu.frozen {
		st.Frozen = append(st.Frozen, f)
	}
	sort.Slice(st.Frozen, func(i, j int) bool { return st.Frozen[i].Product < st.Frozen[j].Product })
	return st
}
