// Package apptest runs a whole pricestream in a test's process, for the
// tests of the packages above internal/app (the CLI, the examples).
package apptest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/app"
)

// Start runs an App on a loopback port with its data in a temporary
// directory, after mutate changed its default configuration, until the
// test ends; the test fails if the App does not stop cleanly.
func Start(t testing.TB, mutate ...func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := app.New(context.Background(), cfg, nil)
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
