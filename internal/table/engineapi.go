package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// errNoMessage means the engine has no message matching a get request.
var errNoMessage = errors.New("table: no such message")

// msgGetLast fetches the last message on subject from the stream leader
// (not a possibly stale replica, as a direct get may be): the truth a
// writer re-reads after a conflict.
func msgGetLast(ctx context.Context, nc *nats.Conn, jsName, subject string) (uint64, []byte, error) {
	req, _ := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{subject})
	resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+jsName, req)
	if err != nil {
		return 0, nil, err
	}
	var r struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return 0, nil, fmt.Errorf("table: bad engine response: %w", err)
	}
	if r.Error != nil {
		if r.Error.Code == 404 {
			if r.Error.ErrCode == 10059 {
				return 0, nil, ErrNotFound
			}
			return 0, nil, errNoMessage
		}
		return 0, nil, fmt.Errorf("table: engine: %s (%d)", r.Error.Description, r.Error.ErrCode)
	}
	if r.Message == nil {
		return 0, nil, errNoMessage
	}
	return r.Message.Seq, r.Message.Data, nil
}

// directGetNext fetches the first message on subject (a wildcard is
// allowed) with sequence >= seq from any replica.
func directGetNext(ctx context.Context, nc *nats.Conn, jsName, subject string, seq uint64) (*nats.Msg, uint64, error) {
	seq = max(seq, 1)
	req := make([]byte, 0, 48+len(subject))
	req = append(req, `{"seq":`...)
	req = strconv.AppendUint(req, seq, 10)
	req = append(req, `,"next_by_subj":"`...)
	req = append(req, subject...) // subjects hold no characters JSON escapes
	req = append(req, `"}`...)
	msg, err := nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+jsName, req)
	if err != nil {
		return nil, 0, err
	}
	if len(msg.Data) == 0 && msg.Header.Get("Status") != "" {
		switch msg.Header.Get("Status") {
		case "404":
			return nil, 0, errNoMessage
		default:
			return nil, 0, fmt.Errorf("table: engine: %s %s", msg.Header.Get("Status"), msg.Header.Get("Description"))
		}
	}
	got, err := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return nil, 0, errors.New("table: engine: direct get without a sequence")
	}
	return msg, got, nil
}

// directGetBatch fetches up to batch messages on subject (a wildcard is
// allowed) with sequence >= seq, about maxBytes at most, from any replica,
// in one request: the engine answers with the messages and an end-of-batch
// mark (servers since NATS 2.11). It calls fn for each message in order
// until fn returns false, and returns errNoMessage when there is none. A
// server that does not batch answers with one message, which fn gets
// alone; the caller asks again from after it.
func directGetBatch(ctx context.Context, nc *nats.Conn, jsName, subject string, seq uint64, batch, maxBytes int, fn func(seq uint64, data []byte) bool) error {
	seq = max(seq, 1)
	req := make([]byte, 0, 96+len(subject))
	req = append(req, `{"seq":`...)
	req = strconv.AppendUint(req, seq, 10)
	req = append(req, `,"next_by_subj":"`...)
	req = append(req, subject...) // subjects hold no characters JSON escapes
	req = append(req, `","batch":`...)
	req = strconv.AppendInt(req, int64(max(batch, 1)), 10)
	req = append(req, `,"max_bytes":`...)
	req = strconv.AppendInt(req, int64(max(maxBytes, 1)), 10)
	req = append(req, '}')
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe() //nolint:errcheck // nothing to do about it
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+jsName, inbox, req); err != nil {
		return err
	}
	for first := true; ; first = false {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return err
		}
		if status := msg.Header.Get("Status"); len(msg.Data) == 0 && status != "" {
			switch {
			case status == "204": // end of batch
				return nil
			case status == "404" && first:
				return errNoMessage
			default:
				return fmt.Errorf("table: engine: %s %s", status, msg.Header.Get("Description"))
			}
		}
		got, err := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
		if err != nil {
			return errors.New("table: engine: direct get without a sequence")
		}
		if !fn(got, msg.Data) {
			return nil
		}
		if first && msg.Header.Get("Nats-Num-Pending") == "" {
			return nil // a server that does not batch: one message
		}
	}
}

// deleteMsg removes the message at seq from the stream jsName (without
// overwriting its bytes on disk); a message already gone is no error. The
// engine finds it by its sequence, where a purge of a subject below a
// sequence steps through the messages of the blocks the subject spans.
func deleteMsg(ctx context.Context, nc *nats.Conn, jsName string, seq uint64) error {
	req := strconv.AppendUint([]byte(`{"no_erase":true,"seq":`), seq, 10)
	req = append(req, '}')
	err := streamRequest(ctx, nc, "$JS.API.STREAM.MSG.DELETE."+jsName, req, "delete message")
	var apiErr *engineAPIError
	if errors.As(err, &apiErr) && (apiErr.code == jsNoMessageFound || apiErr.code == jsSequenceNotFound) {
		return nil
	}
	return err
}

// JetStream's error codes for a message that is not in the stream
// (JSNoMessageFoundErr, JSSequenceNotFoundErrF).
const (
	jsNoMessageFound   = 10037
	jsSequenceNotFound = 10043
)

// purgeSubject removes the messages on subject (a literal subject; "" for
// every subject of the stream) whose sequence is below below: the
// compactor's tool.
func purgeSubject(ctx context.Context, nc *nats.Conn, jsName, subject string, below uint64) error {
	req, _ := json.Marshal(struct {
		Filter string `json:"filter,omitempty"`
		Seq    uint64 `json:"seq"`
	}{subject, below})
	return streamRequest(ctx, nc, "$JS.API.STREAM.PURGE."+jsName, req, "purge")
}

// engineAPIError is an error a JetStream API request answered with.
type engineAPIError struct {
	what, description string
	code              int // JetStream's err_code
}

func (e *engineAPIError) Error() string {
	return fmt.Sprintf("table: engine: %s: %s (%d)", e.what, e.description, e.code)
}

// streamRequest makes the JetStream API request req on subject and
// returns the error it answers with, an *engineAPIError naming what.
func streamRequest(ctx context.Context, nc *nats.Conn, subject string, req []byte, what string) error {
	resp, err := nc.RequestWithContext(ctx, subject, req)
	if err != nil {
		return err
	}
	var r struct {
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return fmt.Errorf("table: bad engine response: %w", err)
	}
	if r.Error != nil {
		return &engineAPIError{what: what, description: r.Error.Description, code: r.Error.ErrCode}
	}
	return nil
}
