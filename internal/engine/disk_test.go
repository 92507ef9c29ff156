package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
)

// TestEngineDiskGuard checks the free-space reserve: a reserve larger than
// any disk refuses writes with ErrStorageFull naming the directory; the
// default reserve on this machine's disk does not.
func TestEngineDiskGuard(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MinFreeBytes = 1 << 62
	e, err := engine.Start(context.Background(), cfg, engine.Deps{})
	require.NoError(t, err)
	err = e.CheckStorage()
	require.ErrorIs(t, err, engine.ErrStorageFull)
	require.ErrorContains(t, err, cfg.DataDir)
	free, ok := e.DiskFree()
	require.True(t, ok)
	require.Positive(t, free)
	require.NoError(t, e.Close())

	cfg.MinFreeBytes = -1 // off
	e, err = engine.Start(context.Background(), cfg, engine.Deps{})
	require.NoError(t, err)
	require.NoError(t, e.CheckStorage())
	require.NoError(t, e.Close())
}
