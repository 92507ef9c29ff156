package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// A stream made with MediumBlocks is stored in blocks of at most 4 MB; the
// same stream without it gets the server's 8 MB blocks (so the test sees
// the difference it depends on, and fails if a server version chooses
// block sizes otherwise).
func TestEngineMediumBlocks(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	js := e.JetStream()
	largest := func(name string, cfg jetstream.StreamConfig) int64 {
		t.Helper()
		cfg.Name, cfg.Subjects = name, []string{name + ".*"}
		_, err := js.CreateStream(ctx, cfg)
		require.NoError(t, err)
		msg := make([]byte, 64<<10)
		var acks []jetstream.PubAckFuture
		for i := range 200 { // 12.8 MB: past one 8 MB block
			f, err := js.PublishAsync(name+"."+string(rune('a'+i%4)), msg)
			require.NoError(t, err)
			acks = append(acks, f)
		}
		for _, f := range acks {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				require.NoError(t, err)
			}
		}
		blocks, err := filepath.Glob(filepath.Join(e.Config().DataDir, "jetstream", "jetstream", "*", "streams", name, "msgs", "*.blk"))
		require.NoError(t, err)
		require.NotEmpty(t, blocks, "the stream's block files")
		var most int64
		for _, b := range blocks {
			fi, err := os.Stat(b)
			require.NoError(t, err)
			most = max(most, fi.Size())
		}
		return most
	}
	const mb = 1 << 20
	medium := largest("medium", engine.MediumBlocks(jetstream.StreamConfig{}))
	require.LessOrEqual(t, medium, int64(4*mb+128<<10), "a block holds at most 4 MB and the message that crosses it")
	plain := largest("plain", jetstream.StreamConfig{})
	require.Greater(t, plain, int64(5*mb), "without MediumBlocks the server writes 8 MB blocks")

	info, err := js.Stream(ctx, "medium")
	require.NoError(t, err)
	require.Equal(t, uint64(200), info.CachedInfo().State.Msgs, "the per-subject limit removed nothing")

	kept := engine.MediumBlocks(jetstream.StreamConfig{MaxMsgsPerSubject: 1})
	require.Equal(t, int64(1), kept.MaxMsgsPerSubject, "a per-subject limit of its own is kept")
}
