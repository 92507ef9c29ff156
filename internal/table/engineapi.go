package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// purgeSubject removes the messages on subject (a literal subject) whose
// sequence is below below: the compactor's tool.
func purgeSubject(ctx context.Context, nc *nats.Conn, jsName, subject string, below uint64) error {
	req, _ := json.Marshal(struct {
		Filter string `json:"filter"`
		Seq    uint64 `json:"seq"`
	}{subject, below})
	resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE."+jsName, req)
	if err != nil {
		return err
	}
	var r struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Success bool `json:"success"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return fmt.Errorf("table: bad engine response: %w", err)
	}
	if r.Error != nil {
		return fmt.Errorf("table: engine: purge: %s (%d)", r.Error.Description, r.Error.ErrCode)
	}
	return nil
}

// publishExpect stores data on subject if the subject's last message is
// expectSeq (0: the subject has none), and returns the stored message's
// stream sequence. It is the client's PublishMsg with
// WithExpectLastSequencePerSubject, without its JSON decoding of every
// acknowledgement (a measurable share of a table write's CPU): a success
// is parsed by hand, and only an error response is decoded as JSON, into
// a *jetstream.APIError as the client returns it.
func publishExpect(ctx context.Context, nc *nats.Conn, subject string, data []byte, expectSeq uint64) (uint64, error) {
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	m.Header[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(expectSeq, 10)}
	resp, err := nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return 0, fmt.Errorf("%w: %w", jetstream.ErrNoStreamResponse, err)
		}
		return 0, err
	}
	return parsePubAck(resp.Data)
}

// parsePubAck reads the sequence of a JetStream publish acknowledgement
// ({"stream":"S","seq":N,...}) or returns its error.
func parsePubAck(b []byte) (uint64, error) {
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
		return 0, fmt.Errorf("table: bad publish acknowledgement %q: %w", b, err)
	}
	if r.Error != nil {
		return 0, r.Error
	}
	if r.Seq == 0 {
		return 0, fmt.Errorf("table: publish acknowledgement without a sequence: %q", b)
	}
	return r.Seq, nil
}
