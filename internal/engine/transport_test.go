package engine_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// TestEngineTransport: by default the process's clients reach the
// embedded server over TCP on the loopback interface, where a client
// without the process's token is refused and nothing is offered to
// clients outside the process (ClientURL is empty); "in-process" uses the
// server's pipes and opens no port; with a listener, the process's
// clients use it. JetStream works over each.
func TestEngineTransport(t *testing.T) {
	ctx := context.Background()
	works := func(t *testing.T, e *engine.Engine) {
		t.Helper()
		kv, err := e.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: e.Name("kv", "transport")})
		require.NoError(t, err)
		_, err = kv.Put(ctx, "k", []byte("v"))
		require.NoError(t, err)
		nc, err := e.Connect("another")
		require.NoError(t, err)
		require.Equal(t, e.Conn().ConnectedUrl(), nc.ConnectedUrl(), "every connection the same way")
		require.Equal(t, e.Conn().ConnectedAddr() == "pipe", nc.ConnectedAddr() == "pipe")
	}

	t.Run("loopback", func(t *testing.T) {
		e := enginetest.Start(t)
		require.Equal(t, engine.TransportLoopback, e.Config().Transport, "the default")
		u, err := url.Parse(e.Conn().ConnectedUrl())
		require.NoError(t, err, e.Conn().ConnectedUrl())
		require.Equal(t, "127.0.0.1", u.Hostname())
		require.Empty(t, e.ClientURL(), "not for clients outside the process")
		_, err = nats.Connect(u.String(), nats.MaxReconnects(0))
		require.ErrorContains(t, err, "Authorization Violation", "a client without the token")
		_, err = nats.Connect(u.String(), nats.MaxReconnects(0), nats.Token("guess"))
		require.ErrorContains(t, err, "Authorization Violation")
		works(t, e)
	})
	t.Run("in-process", func(t *testing.T) {
		cfg := engine.DefaultConfig()
		cfg.DataDir, cfg.Transport = t.TempDir(), engine.TransportInProcess
		e, err := engine.Start(ctx, cfg, engine.Deps{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, e.Close()) })
		require.Equal(t, "pipe", e.Conn().ConnectedAddr(), "a pipe, no port")
		works(t, e)
	})
	t.Run("listen", func(t *testing.T) {
		e := enginetest.Start(t, enginetest.WithListen("127.0.0.1:0"))
		require.Equal(t, e.ClientURL(), e.Conn().ConnectedUrl())
		works(t, e)
	})
	t.Run("invalid", func(t *testing.T) {
		cfg := engine.DefaultConfig()
		cfg.Transport = "carrier-pigeon"
		require.ErrorContains(t, cfg.Validate("engine"), `engine.transport: want loopback or in-process, got "carrier-pigeon"`)
	})
}
