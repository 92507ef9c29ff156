package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/engine"
)

// ErrKeyNotFound means no API key has that id; test with errors.Is.
var ErrKeyNotFound = errors.New("auth: key not found")

// KeyInfo describes an API key. The secret is never stored: only its
// SHA-256 hash (a key's secret is 190 random bits, so a plain hash cannot
// be guessed back).
type KeyInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked,omitempty"`
	Hash    []byte    `json:"hash,omitempty"`
}

// Keys stores API keys in the engine and verifies bearer tokens against an
// in-memory copy kept current by watching the bucket, so a revocation made
// by any process takes effect everywhere within moments.
type Keys struct {
	eng    *engine.Engine
	kv     jetstream.KeyValue
	logger *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.RWMutex
		keys  map[string]*KeyInfo
		ready bool
	}
	readyc chan struct{}
}

// OpenKeys opens the key store of an engine and starts following it. Close
// stops it.
func OpenKeys(ctx context.Context, eng *engine.Engine, logger *slog.Logger) (*Keys, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kv, err := eng.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      eng.Name("kv", "auth_keys"),
		Description: "pricestream: API keys (hashed)",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: keys bucket: %w", err)
	}
	k := &Keys{eng: eng, kv: kv, logger: logger.With("component", "auth"), readyc: make(chan struct{})}
	k.mu.keys = map[string]*KeyInfo{}
	wctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("auth: watch keys: %w", err)
	}
	k.wg.Add(1)
	go k.follow(wctx, w)
	select {
	case <-k.readyc:
	case <-ctx.Done():
		k.Close()
		return nil, ctx.Err()
	}
	return k, nil
}

func (k *Keys) follow(ctx context.Context, w jetstream.KeyWatcher) {
	defer k.wg.Done()
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // the initial values are all delivered
				k.mu.Lock()
				if !k.mu.ready {
					k.mu.ready = true
					close(k.readyc)
				}
				k.mu.Unlock()
				continue
			}
			k.apply(e)
		}
	}
}

func (k *Keys) apply(e jetstream.KeyValueEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(k.mu.keys, e.Key())
		return
	}
	var info KeyInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		k.logger.Warn("ignoring a corrupt API key entry", "key", e.Key(), "err", err)
		return
	}
	k.mu.keys[e.Key()] = &info
}

// Close stops following the store. It is idempotent.
func (k *Keys) Close() {
	k.cancel()
	k.wg.Wait()
}

const tokenPrefix = "psk_"

var idRE = regexp.MustCompile(`^[a-z0-9]{12}$`)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Create makes a key with the given scopes and returns its token, which is
// shown once: only its hash is kept.
func (k *Keys) Create(ctx context.Context, name string, scopes []Scope) (string, *KeyInfo, error) {
	if name == "" || len(name) > 128 {
		return "", nil, fmt.Errorf("%w: a key needs a name of 1-128 characters", ErrInvalidScope)
	}
	if len(scopes) == 0 {
		return "", nil, fmt.Errorf("%w: a key needs at least one scope", ErrInvalidScope)
	}
	id := randomString(12, "abcdefghijklmnopqrstuvwxyz0123456789")
	secret := randomString(32, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	sum := sha256.Sum256([]byte(secret))
	info := &KeyInfo{ID: id, Name: name, Created: time.Now().UTC(), Hash: sum[:]}
	for _, s := range scopes {
		info.Scopes = append(info.Scopes, s.String())
	}
	b, _ := json.Marshal(info)
	if _, err := k.kv.Create(ctx, id, b); err != nil {
		return "", nil, fmt.Errorf("auth: create key: %w", err)
	}
	if err := k.eng.SyncAll(ctx); err != nil {
		return "", nil, fmt.Errorf("auth: create key: %w", err)
	}
	k.apply(fakeEntry{key: id, value: b})
	return tokenPrefix + id + "_" + secret, info.public(), nil
}

func (i *KeyInfo) public() *KeyInfo {
	c := *i
	c.Hash = nil
	return &c
}

// List returns every key (without hashes), sorted by creation.
func (k *Keys) List() []*KeyInfo {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]*KeyInfo, 0, len(k.mu.keys))
	for _, i := range k.mu.keys {
		out = append(out, i.public())
	}
	slices.SortFunc(out, func(a, b *KeyInfo) int { return a.Created.Compare(b.Created) })
	return out
}

// Revoke marks a key revoked; requests with it are refused from then on.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	e, err := k.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || (err == nil && !idRE.MatchString(id)) {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	var info KeyInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return fmt.Errorf("auth: key %s: %w", id, err)
	}
	info.Revoked = true
	b, _ := json.Marshal(&info)
	if _, err := k.kv.Update(ctx, id, b, e.Revision()); err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	if err := k.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	k.apply(fakeEntry{key: id, value: b})
	return nil
}

// Verify returns the principal of a bearer token, or an error wrapping
// ErrUnauthenticated.
func (k *Keys) Verify(token string) (*Principal, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || !idRE.MatchString(id) {
		return nil, fmt.Errorf("%w: malformed API key", ErrUnauthenticated)
	}
	k.mu.RLock()
	info := k.mu.keys[id]
	k.mu.RUnlock()
	sum := sha256.Sum256([]byte(secret))
	if info == nil || subtle.ConstantTimeCompare(sum[:], info.Hash) != 1 {
		return nil, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	}
	if info.Revoked {
		return nil, fmt.Errorf("%w: API key %s is revoked", ErrUnauthenticated, id)
	}
	return info.principal(), nil
}

// fakeEntry applies a write locally before the watch delivers it, so that
// a key works at once in the process that made it.
type fakeEntry struct {
	jetstream.KeyValueEntry
	key   string
	value []byte
}

func (f fakeEntry) Key() string                     { return f.key }
func (f fakeEntry) Value() []byte                   { return f.value }
func (f fakeEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
