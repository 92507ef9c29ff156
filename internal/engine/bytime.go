package engine

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FirstSince returns the first message of stream on subject (wildcards
// allowed) stored at or after since, or nil when there is none. Direct
// gets by time need NATS 2.11; the short-lived consumer it uses works on
// every server version. Errors come as the client gives them.
func FirstSince(ctx context.Context, js jetstream.JetStream, stream, subject string, since time.Time) (jetstream.Msg, error) {
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &since,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: 30 * time.Second,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = js.DeleteConsumer(context.WithoutCancel(ctx), stream, cons.CachedInfo().Name)
	}()
	if cons.CachedInfo().NumPending == 0 {
		return nil, nil
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if errors.Is(err, jetstream.ErrNoMessages) {
		return nil, nil
	}
	return msg, err
}
