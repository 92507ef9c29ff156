package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishRetries and PublishRetryWait are how often and how far apart
// [PublishExpect] sends a publish again that found no responder: the
// client's own defaults (jetstream.DefaultPubRetryAttempts and
// DefaultPubRetryWait).
const (
	PublishRetries   = jetstream.DefaultPubRetryAttempts
	PublishRetryWait = jetstream.DefaultPubRetryWait
)

// AnySeq as the expected sequence of [PublishExpect] stores the message
// whatever the subject's last message is: the engine then neither checks
// nor reads that message. The check reads the block holding it, and keeps
// that block's cache (up to 8 MB) in memory for ten seconds more: on a
// stream with history, where the last versions of rarely written subjects
// lie in old blocks, checked writes keep the old blocks in memory.
const AnySeq = ^uint64(0)

// PublishExpect stores data on subject if the subject's last message is
// expectSeq (0: the subject has none; [AnySeq]: whatever it is), and
// returns the stored message's stream sequence. It is the client's PublishMsg with
// WithExpectLastSequencePerSubject, without its JSON decoding of every
// acknowledgement (a measurable share of a table write's CPU): a success
// is parsed by hand, and only an error response is decoded as JSON, into
// a *jetstream.APIError as the client returns it ([IsWrongLastSeq] tells
// an optimistic-concurrency conflict).
//
// As the client's publish does, a publish that finds no responder is sent
// again, up to [PublishRetries] times [PublishRetryWait] apart, to ride out
// a stream leader's election or a server going away: callers take "no
// responders" on a connected client for a stream that no longer exists,
// and it must not be the sign of a blip.
func PublishExpect(ctx context.Context, nc *nats.Conn, subject string, data []byte, expectSeq uint64) (uint64, error) {
	seq, _, err := publishExpect(ctx, nc, subject, data, expectSeq)
	return seq, err
}

// publishExpect is PublishExpect, returning the acknowledgement too (for
// [pubAckStream]: only a durable write needs the stream's name).
func publishExpect(ctx context.Context, nc *nats.Conn, subject string, data []byte, expectSeq uint64) (uint64, []byte, error) {
	m := &nats.Msg{Subject: subject, Data: data, Header: expectHeader(expectSeq)}
	resp, err := nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < PublishRetries; r++ {
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(PublishRetryWait):
		}
		resp, err = nc.RequestMsgWithContext(ctx, m)
	}
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return 0, nil, fmt.Errorf("%w: %w", jetstream.ErrNoStreamResponse, err)
		}
		return 0, nil, err
	}
	seq, err := ParsePubAck(resp.Data)
	if err != nil {
		return 0, nil, err
	}
	return seq, resp.Data, nil
}

// expectHeader is the header of a publish conditional on its subject's
// last sequence being expectSeq: nil for [AnySeq].
func expectHeader(expectSeq uint64) nats.Header {
	if expectSeq == AnySeq {
		return nil
	}
	return nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(expectSeq, 10)}}
}

// pubAckStream returns the stream named by a successful acknowledgement
// ({"stream":"S",...}; stream names have no quotes or backslashes), or "".
func pubAckStream(b []byte) string {
	const key = `"stream":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// ParsePubAck reads the sequence of a JetStream publish acknowledgement
// ({"stream":"S","seq":N,...}) or returns its error.
func ParsePubAck(b []byte) (uint64, error) {
	if !bytes.Contains(b, []byte(`"error"`)) {
		if i := bytes.Index(b, []byte(`"seq":`)); i >= 0 {
			rest := b[i+len(`"seq":`):]
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			if seq, err := strconv.ParseUint(string(rest[:n]), 10, 64); err == nil && seq > 0 {
				return seq, nil
			}
		}
	}
	var r struct {
		Error *jetstream.APIError `json:"error"`
		Seq   uint64              `json:"seq"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("engine: bad publish acknowledgement %q: %w", b, err)
	}
	if r.Error != nil {
		return 0, r.Error
	}
	if r.Seq == 0 {
		return 0, fmt.Errorf("engine: publish acknowledgement without a sequence: %q", b)
	}
	return r.Seq, nil
}

// IsWrongLastSeq reports whether err is the engine refusing a publish whose
// expected last subject sequence was not the subject's last.
func IsWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// JetStream error codes of writes the server did not store for want of
// room: its resources or storage exhausted (10023, 10047), or a stream
// over a limit, with discard-new, or its store failing (10077).
const (
	errCodeInsufficientResources    jetstream.ErrorCode = 10023
	errCodeStorageResourcesExceeded jetstream.ErrorCode = 10047
	errCodeStoreFailed              jetstream.ErrorCode = 10077
)

// StoreRefused reports whether err is the engine's refusal to store a
// write: its storage full or over a limit (the account's, or a stream's
// with discard-new), or its store failing. Nothing was stored and the
// write may succeed later; it is never the written data's fault.
func StoreRefused(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeInsufficientResources, errCodeStorageResourcesExceeded, errCodeStoreFailed:
		return true
	}
	return false
}
