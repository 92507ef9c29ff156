package dynamodb

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/table"
)

// A table with a stream view has one DynamoDB stream with one shard that
// never closes: the table's change stream is totally ordered (by engine
// sequence), so one shard keeps every item's changes in order.

// streamLabel is the label of a table's stream: its creation time, as
// DynamoDB labels streams.
func streamLabel(i *table.Info) string { return i.Created.UTC().Format("2006-01-02T15:04:05.000") }

func (h *Handler) streamARN(region string, i *table.Info) string {
	return h.tableARN(region, i.Name) + "/stream/" + streamLabel(i)
}

// shardID names the one shard of a table's stream.
func shardID(i *table.Info) string { return "shardId-00000000000000000001-" + i.ID[:8] }

// seqNum renders an engine sequence as a DynamoDB Streams sequence number
// (21 digits, so that text order is numeric order).
func seqNum(seq uint64) string { return fmt.Sprintf("%021d", seq) }

// parseStreamARN returns the table named by a stream ARN and the ARN's
// label.
func parseStreamARN(arn string) (string, string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "dynamodb" {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(parts[5], "table/")
	if !ok {
		return "", "", false
	}
	name, label, ok := strings.Cut(rest, "/stream/")
	return name, label, ok && name != "" && label != ""
}

func (h *Handler) streamsErr(e *Error) *Error {
	e.streams = true
	return e
}

// streamTable resolves a stream ARN to its table.
func (h *Handler) streamTable(ctx context.Context, arn string) (*table.Info, *Error) {
	name, label, ok := parseStreamARN(arn)
	if !ok {
		return nil, validation("Invalid StreamArn: %s", arn)
	}
	if e := allow(ctx, auth.TableScope(name, "read")); e != nil {
		return nil, h.streamsErr(e)
	}
	info, err := h.tables.Describe(ctx, name)
	if err != nil || info.StreamView == table.ViewNone || streamLabel(info) != label {
		if err != nil && !errors.Is(err, table.ErrNotFound) && !errors.Is(err, table.ErrInvalidArgument) {
			return nil, h.toError(err, name)
		}
		return nil, notFound("Requested resource not found: Stream: %s not found", arn)
	}
	return info, nil
}

type streamSummary struct {
	StreamArn   string `json:"StreamArn"`
	StreamLabel string `json:"StreamLabel"`
	TableName   string `json:"TableName"`
}

func (h *Handler) listStreams(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		TableName               string `json:"TableName"`
		Limit                   int    `json:"Limit"`
		ExclusiveStartStreamArn string `json:"ExclusiveStartStreamArn"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.Limit == 0 {
		in.Limit = 100
	}
	want := auth.TableScope("*", "read")
	if in.TableName != "" {
		want = auth.TableScope(in.TableName, "read")
	}
	if e := allow(ctx, want); e != nil {
		return nil, h.streamsErr(e)
	}
	infos, err := h.tables.List(ctx)
	if err != nil {
		return nil, h.toError(err, "")
	}
	out := struct {
		Streams                []streamSummary `json:"Streams"`
		LastEvaluatedStreamArn string          `json:"LastEvaluatedStreamArn,omitempty"`
	}{Streams: []streamSummary{}}
	for _, i := range infos {
		if i.StreamView == table.ViewNone || (in.TableName != "" && i.Name != in.TableName) {
			continue
		}
		arn := h.streamARN(req.region, i)
		if in.ExclusiveStartStreamArn != "" && arn <= in.ExclusiveStartStreamArn {
			continue
		}
		if len(out.Streams) == in.Limit {
			out.LastEvaluatedStreamArn = out.Streams[len(out.Streams)-1].StreamArn
			break
		}
		out.Streams = append(out.Streams, streamSummary{StreamArn: arn, StreamLabel: streamLabel(i), TableName: i.Name})
	}
	return out, nil
}

func (h *Handler) describeStream(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		StreamArn string `json:"StreamArn"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	info, derr := h.streamTable(ctx, in.StreamArn)
	if derr != nil {
		return nil, h.streamsErr(derr)
	}
	t, err := h.tables.Open(ctx, info.Name)
	if err != nil {
		return nil, h.streamsErr(h.toError(err, info.Name))
	}
	st, err := t.StreamState(ctx)
	if err != nil {
		return nil, h.streamsErr(h.toError(err, info.Name))
	}
	d := h.describe(req.region, info, "ACTIVE")
	return map[string]any{"StreamDescription": map[string]any{
		"StreamArn":               in.StreamArn,
		"StreamLabel":             streamLabel(info),
		"StreamStatus":            "ENABLED",
		"StreamViewType":          string(info.StreamView),
		"CreationRequestDateTime": toEpoch(info.Created),
		"TableName":               info.Name,
		"KeySchema":               d.KeySchema,
		"Shards": []map[string]any{{
			"ShardId":             shardID(info),
			"SequenceNumberRange": map[string]string{"StartingSequenceNumber": seqNum(max(st.FirstSeq, 1))},
		}},
	}}, nil
}

// iterator is the state a shard iterator carries.
type iterator struct {
	table  string
	id     string // the table's id: iterators die with the table
	next   uint64 // sequence to read from
	issued int64  // Unix ns
}

const macLen = 16

var errBadIterator = errors.New("dynamodb: bad shard iterator")

func (it *iterator) encode(key []byte) string {
	b := make([]byte, 0, 64+len(it.table))
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, it.next)
	b = binary.BigEndian.AppendUint64(b, uint64(it.issued))
	b = append(b, byte(len(it.id)))
	b = append(b, it.id...)
	b = append(b, it.table...)
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	b = mac.Sum(b)[:len(b)+macLen]
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeIterator(s string, key []byte) (*iterator, error) {
	if len(s) < 1 || len(s) > 2048 {
		return nil, errBadIterator
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8+8+1+macLen || b[0] != 1 {
		return nil, errBadIterator
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:macLen], sum) {
		return nil, errBadIterator
	}
	it := &iterator{next: binary.BigEndian.Uint64(body[1:9]), issued: int64(binary.BigEndian.Uint64(body[9:17]))}
	n := int(body[17])
	if len(body) < 18+n {
		return nil, errBadIterator
	}
	it.id = string(body[18 : 18+n])
	it.table = string(body[18+n:])
	return it, nil
}

func (h *Handler) getShardIterator(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		StreamArn         string `json:"StreamArn"`
		ShardId           string `json:"ShardId"`
		ShardIteratorType string `json:"ShardIteratorType"`
		SequenceNumber    string `json:"SequenceNumber"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	info, derr := h.streamTable(ctx, in.StreamArn)
	if derr != nil {
		return nil, h.streamsErr(derr)
	}
	if in.ShardId != shardID(info) {
		return nil, h.streamsErr(notFound("Requested resource not found: Shard does not exist"))
	}
	var p table.Position
	switch in.ShardIteratorType {
	case "TRIM_HORIZON":
		p.Kind = table.TrimHorizon
	case "LATEST":
		p.Kind = table.Latest
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		n, err := strconv.ParseUint(in.SequenceNumber, 10, 64)
		if err != nil || n == 0 {
			return nil, h.streamsErr(validation("Invalid SequenceNumber: %q", in.SequenceNumber))
		}
		p.Kind, p.Seq = table.AtSeq, n
		if in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER" {
			p.Kind = table.AfterSeq
		}
	default:
		return nil, h.streamsErr(validation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]", in.ShardIteratorType))
	}
	t, err := h.tables.Open(ctx, info.Name)
	if err != nil {
		return nil, h.streamsErr(h.toError(err, info.Name))
	}
	next, err := t.Resolve(ctx, p)
	if err != nil {
		return nil, h.streamsErr(h.toError(err, info.Name))
	}
	it := iterator{table: info.Name, id: info.ID, next: next, issued: h.now().UnixNano()}
	return map[string]string{"ShardIterator": it.encode(h.key)}, nil
}

type streamRecord struct {
	ApproximateCreationDateTime epoch           `json:"ApproximateCreationDateTime"`
	Keys                        json.RawMessage `json:"Keys"`
	NewImage                    json.RawMessage `json:"NewImage,omitempty"`
	OldImage                    json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string          `json:"SequenceNumber"`
	SizeBytes                   int             `json:"SizeBytes"`
	StreamViewType              string          `json:"StreamViewType"`
}

type record struct {
	AwsRegion    string        `json:"awsRegion"`
	Dynamodb     streamRecord  `json:"dynamodb"`
	EventID      string        `json:"eventID"`
	EventName    string        `json:"eventName"`
	EventSource  string        `json:"eventSource"`
	EventVersion string        `json:"eventVersion"`
	UserIdentity *userIdentity `json:"userIdentity,omitempty"`
}

// userIdentity marks a record of a deletion made by the table's Time to
// Live: DynamoDB Streams names the service as its principal. The Streams
// API spells its members PrincipalId and Type (Lambda's events spell
// them principalId and type).
type userIdentity struct {
	PrincipalID string `json:"PrincipalId"`
	Type        string `json:"Type"`
}

var ttlIdentity = &userIdentity{PrincipalID: "dynamodb.amazonaws.com", Type: "Service"}

func (h *Handler) getRecords(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		ShardIterator string `json:"ShardIterator"`
		Limit         int    `json:"Limit"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.Limit == 0 {
		in.Limit = 1000
	}
	if in.Limit < 1 || in.Limit > 1000 {
		return nil, h.streamsErr(validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000", in.Limit))
	}
	it, err := decodeIterator(in.ShardIterator, h.key)
	if err != nil {
		return nil, h.streamsErr(validation("Invalid ShardIterator"))
	}
	if h.now().Sub(time.Unix(0, it.issued)) > h.cfg.IteratorTTL {
		return nil, h.streamsErr(errorf("ExpiredIteratorException", http.StatusBadRequest, "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.Unix(0, it.issued).UTC().Format(time.RFC1123), h.now().UTC().Format(time.RFC1123), h.cfg.IteratorTTL.Milliseconds()))
	}
	if e := allow(ctx, auth.TableScope(it.table, "read")); e != nil {
		return nil, h.streamsErr(e)
	}
	t, err := h.tables.Open(ctx, it.table)
	if err != nil || t.Info().ID != it.id {
		return nil, h.streamsErr(notFound("Requested resource not found: Stream for table %s not found", it.table))
	}
	view := t.StreamView()
	changes, next, err := t.ReadChanges(ctx, it.next, in.Limit)
	if err != nil {
		return nil, h.streamsErr(h.toError(err, it.table))
	}
	out := struct {
		Records           []record `json:"Records"`
		NextShardIterator string   `json:"NextShardIterator"`
	}{Records: make([]record, 0, len(changes))}
	for _, c := range changes {
		sr := streamRecord{ApproximateCreationDateTime: epoch(c.Time.Unix()), Keys: c.Keys.AppendJSON(nil), SequenceNumber: seqNum(c.Seq), SizeBytes: c.Size, StreamViewType: string(view)}
		if (view == table.ViewNewImage || view == table.ViewNewAndOldImgs) && c.New != nil {
			sr.NewImage = c.New.AppendJSON(nil)
		}
		if (view == table.ViewOldImage || view == table.ViewNewAndOldImgs) && c.Old != nil {
			sr.OldImage = c.Old.AppendJSON(nil)
		}
		rec := record{
			AwsRegion: req.region, Dynamodb: sr, EventID: fmt.Sprintf("%s-%d", it.id[:8], c.Seq), EventName: string(c.Event),
			EventSource: "aws:dynamodb", EventVersion: "1.1",
		}
		if c.Expired {
			rec.UserIdentity = ttlIdentity
		}
		out.Records = append(out.Records, rec)
	}
	nit := iterator{table: it.table, id: it.id, next: next, issued: h.now().UnixNano()}
	out.NextShardIterator = nit.encode(h.key)
	return out, nil
}
