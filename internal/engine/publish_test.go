package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

func TestEnginePubAck(t *testing.T) {
	cases := []struct {
		in         string
		seq        uint64
		wrongLast  bool
		errorMatch string
	}{
		{in: `{"stream":"PS_table_products","seq":42}`, seq: 42},
		{in: `{"stream":"S","domain":"hub","seq":7,"duplicate":true}`, seq: 7},
		{in: `{"stream":"error","seq":9}`, seq: 9},
		{in: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"S","seq":0}`, wrongLast: true, errorMatch: "wrong last sequence: 3"},
		{in: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`, errorMatch: "maximum messages exceeded"},
		{in: `{"stream":"S"}`, errorMatch: "without a sequence"},
		{in: `not json`, errorMatch: "bad publish acknowledgement"},
	}
	for _, c := range cases {
		seq, err := engine.ParsePubAck([]byte(c.in))
		if c.errorMatch != "" {
			require.ErrorContains(t, err, c.errorMatch, c.in)
			require.Equal(t, c.wrongLast, engine.IsWrongLastSeq(err), c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.seq, seq, c.in)
	}
}

// TestEnginePublishRetriesNoResponders: a publish that finds no stream is
// sent again for a while, so a stream that appears in that time (as one
// whose leader was being elected) takes it; one that never appears fails
// with the client's "no response from stream".
func TestEnginePublishRetriesNoResponders(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	start := time.Now()
	_, err := engine.PublishExpect(ctx, e.Conn(), "nowhere.a", []byte("x"), 0)
	require.ErrorIs(t, err, jetstream.ErrNoStreamResponse)
	require.GreaterOrEqual(t, time.Since(start), engine.PublishRetryWait*engine.PublishRetries, "sent again before failing")

	created := make(chan error, 1)
	go func() {
		// A timer, not a sleep standing for a condition: the stream must
		// appear after the first attempt and before the retries end.
		<-time.After(engine.PublishRetryWait / 2)
		_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "later", Subjects: []string{"later.>"}})
		created <- err
	}()
	seq, err := engine.PublishExpect(ctx, e.Conn(), "later.a", []byte("x"), 0)
	require.NoError(t, <-created)
	require.NoError(t, err)
	require.Equal(t, uint64(1), seq)
}

// PublishExpect checks the subject's last message unless asked for
// AnySeq, which stores whatever the subject holds and sends the engine no
// expectation to check.
func TestEnginePublishExpectAnySeq(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "kv", Subjects: []string{"kv.>"}})
	require.NoError(t, err)
	first, err := engine.PublishExpect(ctx, e.Conn(), "kv.a", []byte("1"), 0)
	require.NoError(t, err)
	_, err = engine.PublishExpect(ctx, e.Conn(), "kv.a", []byte("2"), 0)
	require.True(t, engine.IsWrongLastSeq(err), "a stale expectation fails: %v", err)

	second, err := engine.PublishExpect(ctx, e.Conn(), "kv.a", []byte("2"), engine.AnySeq)
	require.NoError(t, err)
	require.Greater(t, second, first)
	s, err := e.JetStream().Stream(ctx, "kv")
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, "kv.a")
	require.NoError(t, err)
	require.Equal(t, "2", string(msg.Data))
	require.Empty(t, msg.Header.Get(jetstream.ExpectedLastSubjSeqHeader), "no expectation sent")
	checked, err := s.GetMsg(ctx, first)
	require.NoError(t, err)
	require.Equal(t, "0", checked.Header.Get(jetstream.ExpectedLastSubjSeqHeader), "a checked write sends its expectation")
	_, err = engine.PublishExpect(ctx, e.Conn(), "kv.a", []byte("3"), second)
	require.NoError(t, err, "a checked write after an unchecked one")
}

// TestEngineStoreRefused: the engine's refusals to store a write for want
// of room, wrapped or not, and nothing else.
func TestEngineStoreRefused(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum bytes exceeded"}, true},
		{fmt.Errorf("write: %w", &jetstream.APIError{Code: 500, ErrorCode: 10047, Description: "insufficient storage resources available"}), true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10071, Description: "wrong last sequence: 3"}, false},
		{errors.New("maximum bytes exceeded"), false},
		{nil, false},
	} {
		require.Equal(t, c.want, engine.StoreRefused(c.err), "%v", c.err)
	}
}
