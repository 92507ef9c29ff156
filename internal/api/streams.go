package api

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/stream"
)

func (s *Server) routeStreams() {
	s.mux.HandleFunc("POST /v1/streams", s.createStream)
	s.mux.HandleFunc("GET /v1/streams", s.listStreams)
	s.mux.HandleFunc("GET /v1/streams/{stream}", s.describeStream)
	s.mux.HandleFunc("DELETE /v1/streams/{stream}", s.deleteStream)
	s.mux.HandleFunc("POST /v1/streams/{stream}/records", s.putRecords)
	s.mux.HandleFunc("GET /v1/streams/{stream}/records", s.getRecords)
	s.mux.HandleFunc("GET /v1/streams/{stream}/tail", s.tail)
	s.mux.HandleFunc("GET /v1/streams/{stream}/consumers", s.listConsumers)
	s.mux.HandleFunc("GET /v1/streams/{stream}/consumers/{consumer}", s.describeConsumer)
	s.mux.HandleFunc("DELETE /v1/streams/{stream}/consumers/{consumer}", s.deleteConsumer)
	s.mux.HandleFunc("POST /v1/streams/{stream}/consumers/{consumer}/commit", s.commitConsumer)
	s.mux.HandleFunc("GET /v1/streams/{stream}/consumers/{consumer}/records", s.consumerRecords)
}

// StreamSpec is the body of POST /v1/streams.
type StreamSpec struct {
	Name          string `json:"name"`
	Partitions    int    `json:"partitions,omitempty"`
	Retention     string `json:"retention,omitempty"` // a Go duration, e.g. "24h"
	MaxRecordSize int    `json:"max_record_size,omitempty"`
	Description   string `json:"description,omitempty"`
}

// StreamInfo is the native API's description of a stream.
type StreamInfo struct {
	Name          string                 `json:"name"`
	Partitions    []stream.PartitionInfo `json:"partitions"`
	Retention     string                 `json:"retention"`
	MaxRecordSize int                    `json:"max_record_size"`
	Description   string                 `json:"description,omitempty"`
	Created       time.Time              `json:"created"`
	Batches       uint64                 `json:"batches"`
	Bytes         uint64                 `json:"bytes"`
}

func streamInfo(i *stream.Info) StreamInfo {
	return StreamInfo{Name: i.Name, Partitions: i.Partitions, Retention: i.Retention.String(), MaxRecordSize: i.MaxRecordSize,
		Description: i.Description, Created: i.Created, Batches: i.Batches, Bytes: i.Bytes}
}

// decodeStrict decodes a small control-plane body, refusing unknown fields.
func decodeStrict(r *http.Request, v any) error { return decodeStrictLimit(r, v, 1<<20) }

// decodeStrictLimit is decodeStrict for a body of up to limit bytes.
func decodeStrictLimit(r *http.Request, v any, limit int64) error {
	body, release, err := ReadBody(r, limit)
	if err != nil {
		return err
	}
	defer release()
	dec := stdjson.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	return nil
}

func (s *Server) createStream(w http.ResponseWriter, r *http.Request) {
	var spec StreamSpec
	if err := decodeStrict(r, &spec); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	var ret time.Duration
	if spec.Retention != "" {
		d, err := time.ParseDuration(spec.Retention)
		if err != nil {
			WriteError(w, r, s.logger, fmt.Errorf("%w: retention %q: %v", stream.ErrInvalidArgument, spec.Retention, err))
			return
		}
		ret = d
	}
	info, err := s.streams.Create(r.Context(), stream.Spec{Name: spec.Name, Partitions: spec.Partitions, Retention: ret, MaxRecordSize: spec.MaxRecordSize, Description: spec.Description})
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, streamInfo(info))
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request) {
	infos, err := s.streams.List(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	out := struct {
		Streams []StreamInfo `json:"streams"`
	}{Streams: []StreamInfo{}}
	for _, i := range infos {
		out.Streams = append(out.Streams, streamInfo(i))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) describeStream(w http.ResponseWriter, r *http.Request) {
	info, err := s.streams.Describe(r.Context(), r.PathValue("stream"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, streamInfo(info))
}

func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request) {
	if err := s.streams.Delete(r.Context(), r.PathValue("stream")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// PutRequest is the body of POST /v1/streams/{stream}/records.
type PutRequest struct {
	Records []PutRecord `json:"records"`
}

// PutRecord is one record to put: data is any JSON value, stored as sent.
type PutRecord struct {
	PartitionKey    string          `json:"partition_key"`
	ExplicitHashKey string          `json:"explicit_hash_key,omitempty"`
	Data            json.RawMessage `json:"data"`
}

func (s *Server) putRecords(w http.ResponseWriter, r *http.Request) {
	st, err := s.streams.Open(r.Context(), r.PathValue("stream"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if err := s.limits.admitLag(st.Name()); err != nil {
		WriteError(w, r, s.logger, err) // before reading a body it would refuse anyway
		return
	}
	body, releaseBody, err := ReadBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	req := putRequests.Get().(*PutRequest)
	entries, keep, err := decodePut(req, body)
	// release: the stream no longer refers to the body and the request.
	release := func() {
		releaseBody()
		if keep {
			putRequests.Put(req)
		}
	}
	if err != nil {
		release()
		WriteError(w, r, s.logger, err)
		return
	}
	if err := s.limits.admitRate(r.Context(), len(entries)); err != nil {
		release()
		WriteError(w, r, s.logger, err)
		return
	}
	// A stream bound to a catalog table has its records checked; an
	// unbound stream costs one map lookup.
	var verdict *ingestVerdict
	if s.catalog != nil {
		if sc := s.catalog.StreamCheck(st.Name()); sc != nil {
			if entries, verdict, err = s.checkIngest(r.Context(), sc, entries); err != nil {
				release()
				WriteError(w, r, s.logger, err)
				return
			}
		}
	}
	var results []stream.Result
	if len(entries) > 0 {
		results, err = st.Append(r.Context(), entries)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			release() // the writers no longer refer to the body
		}
		WriteError(w, r, s.logger, err)
		return
	}
	release()
	if verdict != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(appendCheckedResults(make([]byte, 0, 64+(len(verdict.keep)+len(verdict.dead))*64), results, verdict))
		return
	}
	out := make([]byte, 0, 64+len(results)*48)
	failed := 0
	for _, res := range results {
		if res.Err != nil {
			failed++
		}
	}
	out = append(out, `{"failed_record_count":`...)
	out = strconv.AppendInt(out, int64(failed), 10)
	out = append(out, `,"records":[`...)
	for i, res := range results {
		if i > 0 {
			out = append(out, ',')
		}
		if res.Err != nil {
			_, code := errorStatus(res.Err)
			out = append(out, `{"error_code":"`...)
			out = append(out, code...)
			out = append(out, `","error":`...)
			out = jsonstr.Append(out, res.Err.Error())
			out = append(out, '}')
			continue
		}
		out = append(out, `{"partition":`...)
		out = strconv.AppendInt(out, int64(res.Partition), 10)
		out = append(out, `,"sequence_number":"`...)
		out = append(out, res.Position.SequenceNumber(res.Partition)...)
		out = append(out, `"}`...)
	}
	out = append(out, "]}"...)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// putRequests holds decoded put requests for the next puts: decoding into
// a used request reuses its records slice and each record's data array,
// where a new one grew the slice and copied every record's data (3% of
// the pipeline's allocation at 10,000 events/s). A request goes back once
// the stream no longer refers to its entries (see putRecords).
var putRequests = sync.Pool{New: func() any { return new(PutRequest) }}

// maxKeptPut is the most data bytes a request may hold to be kept for
// reuse: a rare large put's arrays are left to the collector.
const maxKeptPut = 1 << 20

// reset empties a used request for the next decode, keeping its arrays.
// The decoder leaves the fields a record of the new body lacks as they
// were, so every record within the slice's capacity is cleared.
func (r *PutRequest) reset() {
	recs := r.Records[:cap(r.Records)]
	for i := range recs {
		recs[i] = PutRecord{Data: recs[i].Data[:0]}
	}
	r.Records = r.Records[:0]
}

// decodePut decodes and checks the body of a native put into req (a used
// request is reset first): its records, at most MaxPutRecords and
// MaxPutBytes, each with JSON data. The entries' data may alias body and
// req's arrays. It reports whether req is small enough to keep for reuse.
func decodePut(req *PutRequest, body []byte) ([]stream.Entry, bool, error) {
	req.reset()
	if err := json.UnmarshalNoEscape(body, req); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	entries := make([]stream.Entry, len(req.Records))
	bytes := 0
	for i := range req.Records {
		rec := &req.Records[i]
		if len(rec.Data) == 0 {
			return nil, false, fmt.Errorf("%w: records[%d].data: missing", stream.ErrInvalidArgument, i)
		}
		entries[i] = stream.Entry{PartitionKey: rec.PartitionKey, ExplicitHashKey: rec.ExplicitHashKey, Data: rec.Data}
		bytes += len(rec.Data) + len(rec.PartitionKey)
	}
	keep := bytes <= maxKeptPut && cap(req.Records) <= 2*stream.MaxPutRecords
	if err := stream.CheckPut(len(entries), bytes); err != nil {
		return nil, keep, err
	}
	return entries, keep, nil
}

// readParams are the query parameters of record reads.
type readParams struct {
	partition int
	start     stream.Start
	limit     int
	wait      time.Duration
}

func parseReadParams(r *http.Request, defStart string) (readParams, error) {
	q := r.URL.Query()
	var p readParams
	var err error
	if v := q.Get("partition"); v != "" {
		if p.partition, err = strconv.Atoi(v); err != nil {
			return p, fmt.Errorf("%w: partition %q: want a number", stream.ErrInvalidArgument, v)
		}
	}
	start := q.Get("start")
	if start == "" {
		start = defStart
	}
	if p.start, err = stream.ParseStart(start); err != nil {
		return p, err
	}
	if v := q.Get("limit"); v != "" {
		if p.limit, err = strconv.Atoi(v); err != nil || p.limit < 1 || p.limit > stream.MaxReadRecords {
			return p, fmt.Errorf("%w: limit %q: want 1-%d", stream.ErrInvalidArgument, v, stream.MaxReadRecords)
		}
	}
	if v := q.Get("wait"); v != "" {
		if p.wait, err = time.ParseDuration(v); err != nil || p.wait < 0 || p.wait > time.Minute {
			return p, fmt.Errorf("%w: wait %q: want a duration up to 1m", stream.ErrInvalidArgument, v)
		}
	}
	return p, nil
}

func (s *Server) getRecords(w http.ResponseWriter, r *http.Request) {
	p, err := parseReadParams(r, "trim_horizon")
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	st, err := s.streams.Open(r.Context(), r.PathValue("stream"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	from, err := st.Resolve(r.Context(), p.partition, p.start)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.readAndWrite(w, r, st, p, from)
}

// readAndWrite reads from a position, waiting up to p.wait for records when
// there are none yet, and writes the native JSON answer.
func (s *Server) readAndWrite(w http.ResponseWriter, r *http.Request, st *stream.Stream, p readParams, from stream.Position) {
	ctx := r.Context()
	res, err := st.Read(ctx, p.partition, from, stream.ReadOptions{MaxRecords: p.limit})
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if len(res.Records) == 0 && p.wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, p.wait)
		sub, err := st.Subscribe(wctx, p.partition, res.Next)
		if err == nil {
			for wctx.Err() == nil {
				recs, err := sub.Next(wctx)
				if err != nil || len(recs) > 0 {
					break
				}
			}
			sub.Stop()
			// Read again so the answer obeys the limits and positions.
			res, err = st.Read(ctx, p.partition, from, stream.ReadOptions{MaxRecords: p.limit})
		}
		cancel()
		if err != nil {
			WriteError(w, r, s.logger, err)
			return
		}
	}
	out := make([]byte, 0, 256+len(res.Records)*300)
	out = append(out, `{"records":[`...)
	for i := range res.Records {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendRecordJSON(out, &res.Records[i])
	}
	out = append(out, `],"next":"at:`...)
	out = append(out, res.Next.SequenceNumber(p.partition)...)
	out = append(out, `","millis_behind":`...)
	out = strconv.AppendInt(out, res.MillisBehind, 10)
	out = append(out, '}')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// tail streams the records of every partition (or of ?partition=N) as JSON
// lines as they are stored, until the client goes away.
func (s *Server) tail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err := stream.ParseStart(cmpOr(q.Get("start"), "latest"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	st, err := s.streams.Open(r.Context(), r.PathValue("stream"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	parts := make([]int, 0, st.Partitions())
	if v := q.Get("partition"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			WriteError(w, r, s.logger, fmt.Errorf("%w: partition %q: want a number", stream.ErrInvalidArgument, v))
			return
		}
		parts = append(parts, p)
	} else {
		for p := range st.Partitions() {
			parts = append(parts, p)
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	subs := make([]*stream.Subscription, 0, len(parts))
	defer func() {
		for _, sub := range subs {
			sub.Stop()
		}
	}()
	for _, p := range parts {
		from, err := st.Resolve(ctx, p, start)
		if err == nil {
			var sub *stream.Subscription
			if sub, err = st.Subscribe(ctx, p, from); err == nil {
				subs = append(subs, sub)
			}
		}
		if err != nil {
			WriteError(w, r, s.logger, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			var buf []byte
			for {
				recs, err := sub.Next(ctx)
				if err != nil {
					cancel()
					return
				}
				buf = buf[:0]
				for i := range recs {
					buf = appendRecordJSON(buf, &recs[i])
					buf = append(buf, '\n')
				}
				mu.Lock()
				_, werr := w.Write(buf)
				if werr == nil {
					werr = rc.Flush()
				}
				mu.Unlock()
				if werr != nil {
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ConsumerInfo is the native API's description of a named consumer.
type ConsumerInfo struct {
	Stream     string          `json:"stream"`
	Name       string          `json:"name"`
	Partitions []ConsumerLagJS `json:"partitions"`
}

// ConsumerLagJS is a consumer's lag and checkpoint in one partition.
type ConsumerLagJS struct {
	Partition    int           `json:"partition"`
	Records      uint64        `json:"records_behind"`
	MillisBehind int64         `json:"millis_behind"`
	Checkpoint   *CheckpointJS `json:"checkpoint,omitempty"`
}

// CheckpointJS is a committed position.
type CheckpointJS struct {
	SequenceNumber string    `json:"sequence_number"`
	Offset         uint64    `json:"offset"`
	Arrival        time.Time `json:"arrival"`
	Committed      time.Time `json:"committed"`
}

func (s *Server) listConsumers(w http.ResponseWriter, r *http.Request) {
	names, err := s.streams.Consumers(r.Context(), r.PathValue("stream"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if _, err := s.streams.Describe(r.Context(), r.PathValue("stream")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"consumers": append([]string{}, names...)})
}

func (s *Server) describeConsumer(w http.ResponseWriter, r *http.Request) {
	c, err := s.streams.Consumer(r.Context(), r.PathValue("stream"), r.PathValue("consumer"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	lags, err := c.Lag(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	out := ConsumerInfo{Stream: c.Stream().Name(), Name: c.Name()}
	for _, l := range lags {
		cl := ConsumerLagJS{Partition: l.Partition, Records: l.Records, MillisBehind: l.Millis}
		if l.Checkpoint != nil {
			cl.Checkpoint = &CheckpointJS{SequenceNumber: l.Checkpoint.Position.SequenceNumber(l.Partition), Offset: l.Checkpoint.Offset, Arrival: l.Checkpoint.Arrival.UTC(), Committed: l.Checkpoint.Committed.UTC()}
		}
		out.Partitions = append(out.Partitions, cl)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteConsumer(w http.ResponseWriter, r *http.Request) {
	if err := s.streams.DeleteConsumer(r.Context(), r.PathValue("stream"), r.PathValue("consumer")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// CommitRequest is the body of a consumer commit.
type CommitRequest struct {
	Partition      int    `json:"partition"`
	SequenceNumber string `json:"sequence_number"`
}

func (s *Server) commitConsumer(w http.ResponseWriter, r *http.Request) {
	var req CommitRequest
	if err := decodeStrict(r, &req); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	part, pos, err := stream.ParseSequenceNumber(req.SequenceNumber)
	if err == nil && part != req.Partition {
		err = fmt.Errorf("%w: sequence number %s belongs to partition %d, not %d", stream.ErrInvalidArgument, req.SequenceNumber, part, req.Partition)
	}
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	c, err := s.streams.Consumer(r.Context(), r.PathValue("stream"), r.PathValue("consumer"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if err := c.CommitPosition(r.Context(), req.Partition, pos); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) consumerRecords(w http.ResponseWriter, r *http.Request) {
	p, err := parseReadParams(r, "trim_horizon")
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	c, err := s.streams.Consumer(r.Context(), r.PathValue("stream"), r.PathValue("consumer"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	from, err := c.Start(r.Context(), p.partition, p.start)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.readAndWrite(w, r, c.Stream(), p, from)
}
