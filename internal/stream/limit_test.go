package stream_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
)

// TestStreamAppendOverLimit: records the engine does not store because
// their partition is over a limit (an operator's, with discard new) fail
// with ErrUnavailable, which producers retry (the APIs answer 503), not as
// bad records; once the limit is lifted the same records are stored.
func TestStreamAppendOverLimit(t *testing.T) {
	eng := enginetest.Start(t)
	ctx := context.Background()
	m := newManager(t, eng, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "limited", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "limited")
	require.NoError(t, err)

	limit := func(maxBytes int64) { enginetest.LimitBytes(t, eng, eng.Name("stream", "limited")+"_0", maxBytes) }
	limit(1)
	es := entries(3, func(int) string { return "k" })
	res, err := s.Append(ctx, es)
	if err == nil {
		for _, r := range res {
			err = r.Err
			require.Error(t, err, "not stored over the limit")
		}
	}
	require.ErrorIs(t, err, stream.ErrUnavailable)
	require.NotErrorIs(t, err, stream.ErrInvalidArgument)

	limit(-1)
	res, err = s.Append(ctx, es)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
}
