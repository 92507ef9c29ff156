package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

func TestEngineParseFsync(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want engine.FsyncPolicy
		err  string
	}{
		{in: "", want: engine.FsyncAlways},
		{in: "always", want: engine.FsyncAlways},
		{in: "per-message", want: engine.FsyncPerMessage},
		{in: "interval:100ms", want: engine.FsyncPolicy{Interval: 100 * time.Millisecond}},
		{in: "interval:2m", want: engine.FsyncPolicy{Interval: 2 * time.Minute}},
		{in: "interval:0s", err: "interval must be > 0"},
		{in: "interval:soon", err: "invalid duration"},
		{in: "never", err: `want "always", "per-message" or "interval:DURATION"`},
	} {
		got, err := engine.ParseFsync(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
		again, err := engine.ParseFsync(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again, "String round-trips")
	}
}

func TestEngineConfigValidate(t *testing.T) {
	cfg := engine.Config{MaxPayload: 10, Namespace: "bad name", URL: "nats://x", Listen: "127.0.0.1:0"}
	err := cfg.Validate("engine")
	require.Error(t, err)
	for _, want := range []string{"engine.max_payload", "engine.namespace", "engine.listen"} {
		require.ErrorContains(t, err, want)
	}
	require.NoError(t, engine.DefaultConfig().Validate("engine"))
}

func TestEngineEmbeddedStoresAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	require.True(t, e.Embedded())
	require.Empty(t, e.ClientURL(), "no TCP listener unless asked")
	require.NoError(t, e.Ready(ctx))

	js := e.JetStream()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: e.Name("test", "a.b"), Subjects: []string{e.Subject("test", "a.b")}})
	require.NoError(t, err)
	_, err = js.Publish(ctx, e.Subject("test", "a.b"), []byte("hello"))
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
	require.ErrorIs(t, e.Ready(ctx), engine.ErrClosed)

	e2 := enginetest.Start(t, enginetest.WithDir(dir))
	s, err := e2.JetStream().Stream(ctx, e2.Name("test", "a.b"))
	require.NoError(t, err)
	m, err := s.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "hello", string(m.Data))
	require.Equal(t, "ps.test.a~b", m.Subject)
}

func TestEngineDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	enginetest.Start(t, enginetest.WithDir(dir))
	cfg := engine.DefaultConfig()
	cfg.DataDir = dir
	_, err := engine.Start(context.Background(), cfg, engine.Deps{})
	require.ErrorContains(t, err, "in use by another process")
	_, err = os.Stat(filepath.Join(dir, "jetstream"))
	require.NoError(t, err)
}

func TestEngineListen(t *testing.T) {
	e := enginetest.Start(t, enginetest.WithListen("127.0.0.1:0"))
	require.True(t, strings.HasPrefix(e.ClientURL(), "nats://127.0.0.1:"), e.ClientURL())
	cfg := engine.DefaultConfig()
	cfg.URL = e.ClientURL()
	ext, err := engine.Start(context.Background(), cfg, engine.Deps{})
	require.NoError(t, err)
	defer ext.Close()
	require.False(t, ext.Embedded())
	require.NoError(t, ext.Ready(context.Background()))
}

func TestEngineExternal(t *testing.T) {
	e := enginetest.External(t)
	require.False(t, e.Embedded())
	require.NoError(t, e.Ready(context.Background()))
}

func TestEngineFsyncIntervalStarts(t *testing.T) {
	e := enginetest.Start(t, enginetest.WithFsync(engine.FsyncPolicy{Interval: 50 * time.Millisecond}))
	require.Equal(t, "interval:50ms", e.Config().Fsync.String())
}

func TestEngineSecretIsStableAndShared(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	a, err := e.Secret(ctx, "iterators")
	require.NoError(t, err)
	require.Len(t, a, 32)
	b, err := e.Secret(ctx, "iterators")
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := e.Secret(ctx, "other")
	require.NoError(t, err)
	require.NotEqual(t, a, c)
	require.NoError(t, e.Close())
	e2 := enginetest.Start(t, enginetest.WithDir(dir))
	d, err := e2.Secret(ctx, "iterators")
	require.NoError(t, err)
	require.Equal(t, a, d, "survives restart")
}
