package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// TestMain checks that an App's Close stops every goroutine it started.
// The tests' own HTTP clients keep idle connections to servers that have
// closed; their loops end on the next read, and are no goroutine of an App.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(enginetest.LeakOptions(),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)...)
}

// runApp runs an app on a fresh data directory and a loopback port, with
// the defaults as mutate changes them, until the test ends.
func runApp(t *testing.T, mutate ...func(*Config)) *App {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return a
}
