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
