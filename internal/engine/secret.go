package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Secret returns the installation-wide secret of the given name (32 random
// bytes), creating it on first use. Every process on the engine gets the
// same bytes, so tokens signed by one (say, Kinesis shard iterators) verify
// on another.
func (e *Engine) Secret(ctx context.Context, name string) ([]byte, error) {
	kv, err := e.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      e.Name("kv", "meta"),
		Description: "pricestream: installation metadata and secrets",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: meta bucket: %w", err)
	}
	key := "secret." + name
	for range 3 {
		if ent, err := kv.Get(ctx, key); err == nil {
			if len(ent.Value()) != 32 {
				return nil, fmt.Errorf("engine: secret %q is corrupt", name)
			}
			return ent.Value(), nil
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("engine: secret %q: %w", name, err)
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if _, err := kv.Create(ctx, key, b); err == nil {
			return b, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("engine: secret %q: %w", name, err)
		}
	}
	return nil, fmt.Errorf("engine: secret %q: could not create", name)
}
