// Package enginetest gives every test its own engine: a fresh embedded NATS
// JetStream server on t.TempDir(), or, when PRICESTREAM_NATS_URL is set, an
// isolated namespace on that external server.
package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine"
)

// EnvURL names the environment variable that points the external-engine
// tests at a NATS server (CI sets it to nats://127.0.0.1:4222).
const EnvURL = "PRICESTREAM_NATS_URL"

// Option changes the configuration of an engine started by [Start].
type Option func(*engine.Config)

// WithFsync sets the fsync policy.
func WithFsync(p engine.FsyncPolicy) Option { return func(c *engine.Config) { c.Fsync = p } }

// WithDir uses dir as the data directory instead of a new temporary one; a
// test restarts an engine on the same data with it.
func WithDir(dir string) Option { return func(c *engine.Config) { c.DataDir = dir } }

// WithListen makes the embedded server accept TCP clients on addr.
func WithListen(addr string) Option { return func(c *engine.Config) { c.Listen = addr } }

// Start starts a fresh embedded engine on t.TempDir() (or the WithDir
// directory) and closes it when the test ends.
func Start(t testing.TB, opts ...Option) *engine.Engine {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.DataDir = t.TempDir()
	for _, o := range opts {
		o(&cfg)
	}
	e, err := engine.Start(context.Background(), cfg, engine.Deps{})
	if err != nil {
		t.Fatalf("enginetest: start: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// External connects to the NATS server named by PRICESTREAM_NATS_URL under a
// fresh random namespace, and deletes everything in that namespace when the
// test ends. It skips the test when the variable is not set.
func External(t testing.TB) *engine.Engine {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		t.Skipf("enginetest: set %s (for example nats://127.0.0.1:4222, a nats-server started with -js) to run the external-engine tests", EnvURL)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	cfg := engine.DefaultConfig()
	cfg.URL = url
	cfg.Namespace = "t" + hex.EncodeToString(b[:])
	e, err := engine.Start(context.Background(), cfg, engine.Deps{})
	if err != nil {
		t.Fatalf("enginetest: connect to %s: %v", url, err)
	}
	t.Cleanup(func() {
		Purge(t, e)
		e.Close()
	})
	return e
}

// Purge deletes every JetStream stream (including key-value and object
// buckets) of the engine's namespace.
func Purge(t testing.TB, e *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := e.JetStream()
	ns := e.Config().Namespace + "_"
	names := js.StreamNames(ctx)
	var doomed []string
	for n := range names.Name() {
		trimmed := strings.TrimPrefix(strings.TrimPrefix(n, "KV_"), "OBJ_")
		if strings.HasPrefix(trimmed, ns) {
			doomed = append(doomed, n)
		}
	}
	for _, n := range doomed {
		if err := js.DeleteStream(ctx, n); err != nil && err != jetstream.ErrStreamNotFound {
			t.Logf("enginetest: delete %s: %v", n, err)
		}
	}
}

// LimitBytes gives the engine stream named stream a byte limit with
// discard-new, so that the engine refuses what would pass it (as it does
// when its storage is full); maxBytes -1 lifts the limit.
func LimitBytes(t testing.TB, e *engine.Engine, stream string, maxBytes int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := e.JetStream()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("enginetest: stream %s: %v", stream, err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxBytes, cfg.Discard = maxBytes, jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("enginetest: limit %s: %v", stream, err)
	}
}

// Each runs fn as a subtest against a fresh embedded engine and, when
// PRICESTREAM_NATS_URL is set, against the external server too; the external
// subtest skips with a message otherwise.
func Each(t *testing.T, fn func(t *testing.T, e *engine.Engine)) {
	t.Run("embedded", func(t *testing.T) { fn(t, Start(t)) })
	t.Run("external", func(t *testing.T) { fn(t, External(t)) })
}

// LeakOptions are the goleak options every package that starts engines
// uses: they ignore two goroutines of the NATS server's file store (its
// state flusher and access-time ticker) that the server leaves running when
// a JetStream stream is being created at the moment the server shuts down
// (the store is made before the stream is registered, so shutdown never
// stops it); and one of the NATS client's (resetPendingAcksOnReconnect,
// started by an asynchronous publish such as an object store's put, which
// blocks for ever on a nil channel when the client cleans up its reply
// subscription before the goroutine reads the channel: nats.go 1.55
// jetstream.go cleanupReplySub). They are the server's and the client's,
// not ours; every other goroutine must be gone.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
	}
}
