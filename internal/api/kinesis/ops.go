package kinesis

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/stream"
)

type streamModeDetails struct {
	StreamMode string `json:"StreamMode"`
}

type createStreamInput struct {
	StreamName        string             `json:"StreamName"`
	ShardCount        *int               `json:"ShardCount"`
	StreamModeDetails *streamModeDetails `json:"StreamModeDetails"`
}

func (h *Handler) createStream(ctx context.Context, req *request) (any, *Error) {
	var in createStreamInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.StreamName == "" {
		return nil, validation("1 validation error detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null")
	}
	if e := allow(ctx, auth.Admin); e != nil {
		return nil, e
	}
	spec := stream.Spec{Name: in.StreamName}
	if in.ShardCount != nil {
		if *in.ShardCount < 1 {
			return nil, validation("1 validation error detected: Value '%d' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.ShardCount)
		}
		spec.Partitions = *in.ShardCount
	} else if in.StreamModeDetails == nil || in.StreamModeDetails.StreamMode != "ON_DEMAND" {
		return nil, invalidArgument("ShardCount is required for a PROVISIONED stream")
	}
	if _, err := h.streams.Create(ctx, spec); err != nil {
		return nil, h.toError(err, in.StreamName)
	}
	return struct{}{}, nil
}

type deleteStreamInput struct {
	streamRef
	EnforceConsumerDeletion bool `json:"EnforceConsumerDeletion"`
}

func (h *Handler) deleteStream(ctx context.Context, req *request) (any, *Error) {
	var in deleteStreamInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	name, kerr := h.streamName(in.streamRef)
	if kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.Admin); e != nil {
		return nil, e
	}
	if err := h.streams.Delete(ctx, name); err != nil {
		return nil, h.toError(err, name)
	}
	return struct{}{}, nil
}

type hashKeyRange struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type sequenceNumberRange struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
}

type shard struct {
	ShardID             string              `json:"ShardId"`
	HashKeyRange        hashKeyRange        `json:"HashKeyRange"`
	SequenceNumberRange sequenceNumberRange `json:"SequenceNumberRange"`
}

func shards(info *stream.Info) []shard {
	out := make([]shard, len(info.Partitions))
	for i, p := range info.Partitions {
		out[i] = shard{ShardID: ShardID(p.ID), HashKeyRange: hashKeyRange{p.StartingHashKey, p.EndingHashKey}, SequenceNumberRange: sequenceNumberRange{"0"}}
	}
	return out
}

type enhancedMetrics struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

type streamDescription struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       streamModeDetails `json:"StreamModeDetails"`
	Shards                  []shard           `json:"Shards"`
	HasMoreShards           bool              `json:"HasMoreShards"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epoch             `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType"`
}

type describeStreamInput struct {
	streamRef
	Limit                 *int   `json:"Limit"`
	ExclusiveStartShardID string `json:"ExclusiveStartShardId"`
}

func retentionHours(d time.Duration) int { return int((d + time.Hour - 1) / time.Hour) }

func (h *Handler) describeStream(ctx context.Context, req *request) (any, *Error) {
	var in describeStreamInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	name, kerr := h.streamName(in.streamRef)
	if kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.StreamScope(name, "read")); e != nil {
		return nil, e
	}
	info, err := h.streams.Describe(ctx, name)
	if err != nil {
		return nil, h.toError(err, name)
	}
	all := shards(info)
	page, more, kerr := pageShards(all, in.ExclusiveStartShardID, in.Limit, 100)
	if kerr != nil {
		return nil, kerr
	}
	return struct {
		StreamDescription streamDescription `json:"StreamDescription"`
	}{streamDescription{
		StreamName: info.Name, StreamARN: h.arn(req.region, info.Name), StreamStatus: "ACTIVE",
		StreamModeDetails: streamModeDetails{"PROVISIONED"}, Shards: page, HasMoreShards: more,
		RetentionPeriodHours: retentionHours(info.Retention), StreamCreationTimestamp: toEpoch(info.Created),
		EnhancedMonitoring: []enhancedMetrics{{ShardLevelMetrics: []string{}}}, EncryptionType: "NONE",
	}}, nil
}

// pageShards returns the shards after the exclusive start, at most limit.
func pageShards(all []shard, exclusiveStart string, limit *int, def int) ([]shard, bool, *Error) {
	from := 0
	if exclusiveStart != "" {
		p, err := ParseShardID(exclusiveStart)
		if err != nil {
			return nil, false, invalidArgument("%v", err)
		}
		from = min(p+1, len(all))
	}
	n := def
	if limit != nil {
		if *limit < 1 || *limit > 10000 {
			return nil, false, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *limit)
		}
		n = *limit
	}
	to := min(from+n, len(all))
	return all[from:to], to < len(all), nil
}

func (h *Handler) describeStreamSummary(ctx context.Context, req *request) (any, *Error) {
	var in streamRef
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	name, kerr := h.streamName(in)
	if kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.StreamScope(name, "read")); e != nil {
		return nil, e
	}
	info, err := h.streams.Describe(ctx, name)
	if err != nil {
		return nil, h.toError(err, name)
	}
	type summary struct {
		StreamName              string            `json:"StreamName"`
		StreamARN               string            `json:"StreamARN"`
		StreamStatus            string            `json:"StreamStatus"`
		StreamModeDetails       streamModeDetails `json:"StreamModeDetails"`
		RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
		StreamCreationTimestamp epoch             `json:"StreamCreationTimestamp"`
		EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
		EncryptionType          string            `json:"EncryptionType"`
		OpenShardCount          int               `json:"OpenShardCount"`
		ConsumerCount           int               `json:"ConsumerCount"`
	}
	return struct {
		StreamDescriptionSummary summary `json:"StreamDescriptionSummary"`
	}{summary{
		StreamName: info.Name, StreamARN: h.arn(req.region, info.Name), StreamStatus: "ACTIVE",
		StreamModeDetails: streamModeDetails{"PROVISIONED"}, RetentionPeriodHours: retentionHours(info.Retention),
		StreamCreationTimestamp: toEpoch(info.Created), EnhancedMonitoring: []enhancedMetrics{{ShardLevelMetrics: []string{}}},
		EncryptionType: "NONE", OpenShardCount: len(info.Partitions),
	}}, nil
}

type listStreamsInput struct {
	Limit                    *int   `json:"Limit"`
	ExclusiveStartStreamName string `json:"ExclusiveStartStreamName"`
	NextToken                string `json:"NextToken"`
}

func (h *Handler) listStreams(ctx context.Context, req *request) (any, *Error) {
	var in listStreamsInput
	if len(req.body) > 0 {
		if err := decode(req, &in); err != nil {
			return nil, err
		}
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 10000 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *in.Limit)
		}
		limit = *in.Limit
	}
	after := in.ExclusiveStartStreamName
	if in.NextToken != "" {
		after = in.NextToken
	}
	if e := allow(ctx, auth.StreamScope("*", "read")); e != nil {
		return nil, e
	}
	infos, err := h.streams.List(ctx)
	if err != nil {
		return nil, h.toError(err, "")
	}
	type summary struct {
		StreamName              string            `json:"StreamName"`
		StreamARN               string            `json:"StreamARN"`
		StreamStatus            string            `json:"StreamStatus"`
		StreamModeDetails       streamModeDetails `json:"StreamModeDetails"`
		StreamCreationTimestamp epoch             `json:"StreamCreationTimestamp"`
	}
	out := struct {
		StreamNames     []string  `json:"StreamNames"`
		HasMoreStreams  bool      `json:"HasMoreStreams"`
		StreamSummaries []summary `json:"StreamSummaries"`
		NextToken       string    `json:"NextToken,omitempty"`
	}{StreamNames: []string{}, StreamSummaries: []summary{}}
	for _, info := range infos {
		if after != "" && info.Name <= after {
			continue
		}
		if len(out.StreamNames) == limit {
			out.HasMoreStreams = true
			out.NextToken = out.StreamNames[len(out.StreamNames)-1]
			break
		}
		out.StreamNames = append(out.StreamNames, info.Name)
		out.StreamSummaries = append(out.StreamSummaries, summary{info.Name, h.arn(req.region, info.Name), "ACTIVE", streamModeDetails{"PROVISIONED"}, toEpoch(info.Created)})
	}
	return out, nil
}

type listShardsInput struct {
	streamRef
	NextToken             string `json:"NextToken"`
	ExclusiveStartShardID string `json:"ExclusiveStartShardId"`
	MaxResults            *int   `json:"MaxResults"`
}

func (h *Handler) listShards(ctx context.Context, req *request) (any, *Error) {
	var in listShardsInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.NextToken != "" {
		if in.StreamName != "" || in.ExclusiveStartShardID != "" {
			return nil, invalidArgument("NextToken cannot be combined with StreamName or ExclusiveStartShardId")
		}
		name, last, ok := strings.Cut(in.NextToken, "|")
		if !ok {
			return nil, errorf("InvalidArgumentException", http.StatusBadRequest, "NextToken %q is not valid", in.NextToken)
		}
		in.StreamName, in.ExclusiveStartShardID = name, last
	}
	name, kerr := h.streamName(in.streamRef)
	if kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.StreamScope(name, "read")); e != nil {
		return nil, e
	}
	info, err := h.streams.Describe(ctx, name)
	if err != nil {
		return nil, h.toError(err, name)
	}
	page, more, kerr := pageShards(shards(info), in.ExclusiveStartShardID, in.MaxResults, 1000)
	if kerr != nil {
		return nil, kerr
	}
	out := struct {
		Shards    []shard `json:"Shards"`
		NextToken string  `json:"NextToken,omitempty"`
	}{Shards: page}
	if more {
		out.NextToken = name + "|" + page[len(page)-1].ShardID
	}
	return out, nil
}

type putRecordInput struct {
	streamRef
	Data                      []byte `json:"Data"`
	PartitionKey              string `json:"PartitionKey"`
	ExplicitHashKey           string `json:"ExplicitHashKey"`
	SequenceNumberForOrdering string `json:"SequenceNumberForOrdering"`
}

func (h *Handler) putRecord(ctx context.Context, req *request) (any, *Error) {
	var in putRecordInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	name, kerr := h.streamName(in.streamRef)
	if kerr != nil {
		return nil, kerr
	}
	if kerr := checkKey("partitionKey", in.PartitionKey); kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.StreamScope(name, "put")); e != nil {
		return nil, e
	}
	st, err := h.streams.Open(ctx, name)
	if err != nil {
		return nil, h.toError(err, name)
	}
	if in.Data == nil {
		return nil, validation("1 validation error detected: Value null at 'data' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Data) > st.MaxRecordSize() {
		return nil, validation("1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to %d", st.MaxRecordSize())
	}
	res, err := h.append(ctx, st, []stream.Entry{{PartitionKey: in.PartitionKey, ExplicitHashKey: in.ExplicitHashKey, Data: in.Data}})
	if err != nil {
		return nil, h.toError(err, name)
	}
	if res[0].Err != nil {
		return nil, h.toError(res[0].Err, name)
	}
	return struct {
		ShardID        string `json:"ShardId"`
		SequenceNumber string `json:"SequenceNumber"`
		EncryptionType string `json:"EncryptionType"`
	}{ShardID(res[0].Partition), res[0].Position.SequenceNumber(res[0].Partition), "NONE"}, nil
}

func checkKey(field, key string) *Error {
	if n := len([]rune(key)); n < 1 || n > stream.MaxPartitionKeyLen {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and %d", truncate(key, 64), field, stream.MaxPartitionKeyLen)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type putRecordsEntry struct {
	Data            []byte `json:"Data"`
	PartitionKey    string `json:"PartitionKey"`
	ExplicitHashKey string `json:"ExplicitHashKey"`
}

type putRecordsInput struct {
	streamRef
	Records []putRecordsEntry `json:"Records"`
}

func (h *Handler) putRecords(ctx context.Context, req *request) (any, *Error) {
	var in putRecordsInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	name, kerr := h.streamName(in.streamRef)
	if kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.StreamScope(name, "put")); e != nil {
		return nil, e
	}
	if n := len(in.Records); n < 1 || n > stream.MaxPutRecords {
		return nil, validation("1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and %d, got %d", stream.MaxPutRecords, n)
	}
	st, err := h.streams.Open(ctx, name)
	if err != nil {
		return nil, h.toError(err, name)
	}
	entries := make([]stream.Entry, len(in.Records))
	total := 0
	for i := range in.Records {
		rec := &in.Records[i]
		if kerr := checkKey("records."+strconv.Itoa(i+1)+".member.partitionKey", rec.PartitionKey); kerr != nil {
			return nil, kerr
		}
		if rec.Data == nil {
			return nil, validation("1 validation error detected: Value null at 'records.%d.member.data' failed to satisfy constraint: Member must not be null", i+1)
		}
		if len(rec.Data) > st.MaxRecordSize() {
			return nil, validation("1 validation error detected: Value at 'records.%d.member.data' failed to satisfy constraint: Member must have length less than or equal to %d", i+1, st.MaxRecordSize())
		}
		total += len(rec.Data) + len(rec.PartitionKey)
		entries[i] = stream.Entry{PartitionKey: rec.PartitionKey, ExplicitHashKey: rec.ExplicitHashKey, Data: rec.Data}
	}
	if total > stream.MaxPutBytes {
		return nil, invalidArgument("Records size exceeds %d bytes: %d bytes of data and partition keys", stream.MaxPutBytes, total)
	}
	results, err := h.append(ctx, st, entries)
	if err != nil {
		return nil, h.toError(err, name)
	}
	failed := 0
	for i := range results {
		if results[i].Err != nil {
			failed++
		}
	}
	out := make([]byte, 0, 64+len(results)*72)
	out = append(out, `{"EncryptionType":"NONE","FailedRecordCount":`...)
	out = strconv.AppendInt(out, int64(failed), 10)
	out = append(out, `,"Records":[`...)
	for i, res := range results {
		if i > 0 {
			out = append(out, ',')
		}
		if res.Err != nil {
			msg, _ := jsonString(res.Err.Error())
			out = append(out, `{"ErrorCode":"`...)
			out = append(out, recordErrorCode(res.Err)...)
			out = append(out, `","ErrorMessage":`...)
			out = append(out, msg...)
			out = append(out, '}')
			continue
		}
		out = append(out, `{"SequenceNumber":"`...)
		out = append(out, res.Position.SequenceNumber(res.Partition)...)
		out = append(out, `","ShardId":"`...)
		out = append(out, ShardID(res.Partition)...)
		out = append(out, `"}`...)
	}
	out = append(out, "]}"...)
	req.raw = true
	req.w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_, _ = req.w.Write(out)
	return nil, nil
}

type getShardIteratorInput struct {
	streamRef
	ShardID                string `json:"ShardId"`
	ShardIteratorType      string `json:"ShardIteratorType"`
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	Timestamp              *epoch `json:"Timestamp"`
}

func (h *Handler) getShardIterator(ctx context.Context, req *request) (any, *Error) {
	var in getShardIteratorInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	name, kerr := h.streamName(in.streamRef)
	if kerr != nil {
		return nil, kerr
	}
	if e := allow(ctx, auth.StreamScope(name, "read")); e != nil {
		return nil, e
	}
	part, err := ParseShardID(in.ShardID)
	if err != nil {
		return nil, invalidArgument("%v", err)
	}
	kind, err := stream.ParseStartKind(in.ShardIteratorType)
	if err != nil {
		return nil, validation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]", in.ShardIteratorType)
	}
	start := stream.Start{Kind: kind}
	switch kind {
	case stream.AtPosition, stream.AfterPosition:
		if in.StartingSequenceNumber == "" {
			return nil, invalidArgument("StartingSequenceNumber is required for ShardIteratorType %s", kind)
		}
		sp, p, err := stream.ParseSequenceNumber(in.StartingSequenceNumber)
		if err != nil || sp != part {
			return nil, invalidArgument("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this shard.", in.StartingSequenceNumber, in.ShardID, name, h.cfg.AccountID)
		}
		start.Partition, start.Position = sp, p
	case stream.AtTimestamp:
		if in.Timestamp == nil {
			return nil, invalidArgument("Timestamp is required for ShardIteratorType AT_TIMESTAMP")
		}
		start.Time = in.Timestamp.time()
	}
	st, err := h.streams.Open(ctx, name)
	if err != nil {
		return nil, h.toError(err, name)
	}
	if part >= st.Partitions() {
		return nil, errorf("ResourceNotFoundException", http.StatusBadRequest, "Shard %s in stream %s under account %s does not exist", in.ShardID, name, h.cfg.AccountID)
	}
	pos, err := st.Resolve(ctx, part, start)
	if err != nil {
		return nil, h.toError(err, name)
	}
	it := iterator{stream: name, created: st.Created().UnixNano(), partition: uint32(part), pos: pos, issued: h.now().UnixNano()}
	return struct {
		ShardIterator string `json:"ShardIterator"`
	}{it.encode(h.key)}, nil
}

type getRecordsInput struct {
	ShardIterator string `json:"ShardIterator"`
	Limit         *int   `json:"Limit"`
	StreamARN     string `json:"StreamARN"`
}

type outRecord struct {
	Data                        []byte `json:"Data"`
	PartitionKey                string `json:"PartitionKey"`
	SequenceNumber              string `json:"SequenceNumber"`
	ApproximateArrivalTimestamp epoch  `json:"ApproximateArrivalTimestamp"`
}

func (h *Handler) getRecords(ctx context.Context, req *request) (any, *Error) {
	var in getRecordsInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.ShardIterator == "" {
		return nil, validation("1 validation error detected: Value null at 'shardIterator' failed to satisfy constraint: Member must not be null")
	}
	limit := stream.MaxReadRecords
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > stream.MaxReadRecords {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *in.Limit, stream.MaxReadRecords)
		}
		limit = *in.Limit
	}
	it, err := decodeIterator(in.ShardIterator, h.key)
	if err != nil {
		return nil, invalidArgument("Invalid ShardIterator: it was not issued by this service or was modified.")
	}
	if it.expired(h.now(), h.cfg.IteratorTTL) {
		return nil, errorf("ExpiredIteratorException", http.StatusBadRequest, "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.Unix(0, it.issued).UTC().Format(time.RFC1123), h.now().UTC().Format(time.RFC1123), h.cfg.IteratorTTL.Milliseconds())
	}
	if e := allow(ctx, auth.StreamScope(it.stream, "read")); e != nil {
		return nil, e
	}
	st, err := h.streams.Open(ctx, it.stream)
	if err != nil {
		return nil, h.toError(err, it.stream)
	}
	if st.Created().UnixNano() != it.created {
		return nil, errorf("ExpiredIteratorException", http.StatusBadRequest, "Iterator refers to stream %s as it was before it was deleted and created again.", it.stream)
	}
	res, err := st.Read(ctx, int(it.partition), it.pos, stream.ReadOptions{MaxRecords: limit})
	if err != nil {
		if errors.Is(err, stream.ErrInvalidArgument) {
			return nil, invalidArgument("%v", err)
		}
		return nil, h.toError(err, it.stream)
	}
	recs := make([]outRecord, len(res.Records))
	for i, r := range res.Records {
		recs[i] = outRecord{Data: r.Data, PartitionKey: r.PartitionKey, SequenceNumber: r.Position.SequenceNumber(r.Partition), ApproximateArrivalTimestamp: toEpoch(r.Arrival)}
	}
	next := *it
	next.pos, next.issued = res.Next, h.now().UnixNano()
	return struct {
		Records            []outRecord `json:"Records"`
		NextShardIterator  string      `json:"NextShardIterator"`
		MillisBehindLatest int64       `json:"MillisBehindLatest"`
	}{recs, next.encode(h.key), res.MillisBehind}, nil
}

// append stores the entries of a put, through the put check when there is
// one: records it sets aside answer with their place on the dead-letter
// stream, and its refusal is a ValidationException (or, when it refuses
// for the ingest limits, ProvisionedThroughputExceededException).
func (h *Handler) append(ctx context.Context, st *stream.Stream, entries []stream.Entry) ([]stream.Result, error) {
	if h.check == nil {
		return st.Append(ctx, entries)
	}
	kept, merge, err := h.check(ctx, st.Name(), entries)
	if errors.Is(err, stream.ErrThrottled) {
		return nil, err // ProvisionedThroughputExceededException
	}
	if err != nil {
		return nil, validation("%s", err.Error())
	}
	var results []stream.Result
	if len(kept) > 0 {
		if results, err = st.Append(ctx, kept); err != nil {
			return nil, err
		}
	}
	if merge != nil {
		results = merge(results)
	}
	return results, nil
}

// allow checks that the request's principal holds scope.
func allow(ctx context.Context, scope auth.Scope) *Error {
	if err := auth.Check(ctx, scope); err != nil {
		return errorf("AccessDeniedException", http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "auth: "))
	}
	return nil
}
