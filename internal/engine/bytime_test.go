package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// TestEngineFirstSince finds the first message stored at or after a time
// among the subjects a filter matches, and none when nothing was stored
// since.
func TestEngineFirstSince(t *testing.T) {
	ctx := context.Background()
	e := enginetest.Start(t)
	js, err := jetstream.New(e.Conn())
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
	require.NoError(t, err)
	pub := func(subj string) uint64 {
		ack, err := js.Publish(ctx, subj, []byte("x"))
		require.NoError(t, err)
		return ack.Sequence
	}
	pub("t.a")
	pub("t.b")
	since := time.Now()
	pub("t.other.c") // not matched by t.*
	want := pub("t.b")
	pub("t.a")

	msg, err := engine.FirstSince(ctx, js, "T", "t.*", since)
	require.NoError(t, err)
	require.NotNil(t, msg)
	md, err := msg.Metadata()
	require.NoError(t, err)
	require.Equal(t, want, md.Sequence.Stream)

	msg, err = engine.FirstSince(ctx, js, "T", "t.*", time.Now())
	require.NoError(t, err)
	require.Nil(t, msg)

	_, err = engine.FirstSince(ctx, js, "NOPE", "t.*", since)
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound)
}
