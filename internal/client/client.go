// Package client is the Go client of pricestream's native API (/v1). The
// CLI, the simulator and the end-to-end tests use it.
//
// A [Client] is safe for concurrent use. Errors from the server are
// [*Error] values carrying the HTTP status and the stable error code.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/api"
)

// Client talks to one pricestream server.
type Client struct {
	base  string
	hc    *http.Client
	token string
}

// BaseURL returns the server's URL the client was made for.
func (c *Client) BaseURL() string { return c.base }

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc instead of a default client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken sends token as a bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// New returns a client of the server at base (for example
// "http://127.0.0.1:8080").
func New(base string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an error answer of the server.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			rd = bytes.NewReader(b)
		default:
			buf, err := json.Marshal(body)
			if err != nil {
				return err
			}
			rd = bytes.NewReader(buf)
		}
	}
	resp, err := c.send(ctx, method, path, rd)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: decode %s %s answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return nil, &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
		}
		return nil, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	return resp, nil
}

// CreateStream creates a stream.
func (c *Client) CreateStream(ctx context.Context, spec api.StreamSpec) (*api.StreamInfo, error) {
	var out api.StreamInfo
	return &out, c.do(ctx, http.MethodPost, "/v1/streams", spec, &out)
}

// ListStreams lists the streams.
func (c *Client) ListStreams(ctx context.Context) ([]api.StreamInfo, error) {
	var out struct {
		Streams []api.StreamInfo `json:"streams"`
	}
	return out.Streams, c.do(ctx, http.MethodGet, "/v1/streams", nil, &out)
}

// DescribeStream describes a stream.
func (c *Client) DescribeStream(ctx context.Context, name string) (*api.StreamInfo, error) {
	var out api.StreamInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/streams/"+url.PathEscape(name), nil, &out)
}

// DeleteStream deletes a stream.
func (c *Client) DeleteStream(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/streams/"+url.PathEscape(name), nil, nil)
}

// PutResult is the answer to a put.
type PutResult struct {
	FailedRecordCount int `json:"failed_record_count"`
	// DeadLetteredCount counts the records of a stream bound to a catalog
	// table that did not match it and went to its dead-letter stream.
	DeadLetteredCount int               `json:"dead_lettered_count,omitempty"`
	Records           []PutRecordResult `json:"records"`
}

// PutRecordResult is the outcome of one record of a put.
type PutRecordResult struct {
	Partition      int    `json:"partition"`
	SequenceNumber string `json:"sequence_number,omitempty"`
	ErrorCode      string `json:"error_code,omitempty"`
	Error          string `json:"error,omitempty"`
	// DeadLetterStream is set when the record went to the dead-letter
	// stream (at Partition and SequenceNumber there) for Reason.
	DeadLetterStream string `json:"dead_letter_stream,omitempty"`
	Reason           string `json:"reason,omitempty"`
}

// PutRecords puts records (at most 500 and 5 MiB) to a stream.
func (c *Client) PutRecords(ctx context.Context, stream string, recs []api.PutRecord) (*PutResult, error) {
	var out PutResult
	return &out, c.do(ctx, http.MethodPost, "/v1/streams/"+url.PathEscape(stream)+"/records", api.PutRequest{Records: recs}, &out)
}

// PutRaw posts a pre-encoded put body (the JSON of api.PutRequest).
func (c *Client) PutRaw(ctx context.Context, stream string, body []byte) (*PutResult, error) {
	var out PutResult
	return &out, c.do(ctx, http.MethodPost, "/v1/streams/"+url.PathEscape(stream)+"/records", body, &out)
}

// Record is a record as the native API returns it.
type Record struct {
	Partition      int             `json:"partition"`
	SequenceNumber string          `json:"sequence_number"`
	Offset         uint64          `json:"offset"`
	PartitionKey   string          `json:"partition_key"`
	Arrival        time.Time       `json:"arrival"`
	Data           json.RawMessage `json:"data,omitempty"`
	DataBase64     []byte          `json:"data_base64,omitempty"`
}

// Records is the answer to a read.
type Records struct {
	Records      []Record `json:"records"`
	Next         string   `json:"next"`
	MillisBehind int64    `json:"millis_behind"`
}

// ReadOptions are the parameters of GetRecords.
type ReadOptions struct {
	Partition int
	Start     string // trim_horizon (default), latest, at:SEQ, after:SEQ, time:RFC3339
	Limit     int
	Wait      time.Duration // wait up to this long for records when there are none
}

func (o ReadOptions) query() string {
	q := url.Values{}
	q.Set("partition", strconv.Itoa(o.Partition))
	if o.Start != "" {
		q.Set("start", o.Start)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Wait > 0 {
		q.Set("wait", o.Wait.String())
	}
	return q.Encode()
}

// GetRecords reads a partition from a start.
func (c *Client) GetRecords(ctx context.Context, stream string, o ReadOptions) (*Records, error) {
	var out Records
	return &out, c.do(ctx, http.MethodGet, "/v1/streams/"+url.PathEscape(stream)+"/records?"+o.query(), nil, &out)
}

// Tail follows a stream (every partition, or one when partition >= 0) from
// start, calling fn for each record as it is stored, until ctx is done or fn
// returns an error (which Tail returns; io.EOF stops it cleanly).
func (c *Client) Tail(ctx context.Context, stream, start string, partition int, fn func(*Record) error) error {
	q := url.Values{}
	if start != "" {
		q.Set("start", start)
	}
	if partition >= 0 {
		q.Set("partition", strconv.Itoa(partition))
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/streams/"+url.PathEscape(stream)+"/tail?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var r Record
		if err := gojson.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("client: tail: %w", err)
		}
		if err := fn(&r); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// Consumers lists a stream's named consumers.
func (c *Client) Consumers(ctx context.Context, stream string) ([]string, error) {
	var out struct {
		Consumers []string `json:"consumers"`
	}
	return out.Consumers, c.do(ctx, http.MethodGet, "/v1/streams/"+url.PathEscape(stream)+"/consumers", nil, &out)
}

// DescribeConsumer returns a consumer's checkpoints and lag.
func (c *Client) DescribeConsumer(ctx context.Context, stream, consumer string) (*api.ConsumerInfo, error) {
	var out api.ConsumerInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/streams/"+url.PathEscape(stream)+"/consumers/"+url.PathEscape(consumer), nil, &out)
}

// ConsumerRecords reads a partition from just after the consumer's
// checkpoint (or from o.Start when it has none).
func (c *Client) ConsumerRecords(ctx context.Context, stream, consumer string, o ReadOptions) (*Records, error) {
	var out Records
	return &out, c.do(ctx, http.MethodGet, "/v1/streams/"+url.PathEscape(stream)+"/consumers/"+url.PathEscape(consumer)+"/records?"+o.query(), nil, &out)
}

// Commit records a consumer's checkpoint.
func (c *Client) Commit(ctx context.Context, stream, consumer string, partition int, seq string) error {
	return c.do(ctx, http.MethodPost, "/v1/streams/"+url.PathEscape(stream)+"/consumers/"+url.PathEscape(consumer)+"/commit", api.CommitRequest{Partition: partition, SequenceNumber: seq}, nil)
}

// DeleteConsumer forgets a consumer.
func (c *Client) DeleteConsumer(ctx context.Context, stream, consumer string) error {
	return c.do(ctx, http.MethodDelete, "/v1/streams/"+url.PathEscape(stream)+"/consumers/"+url.PathEscape(consumer), nil, nil)
}

// Ready reports whether the server answers /readyz with 200.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", nil, nil)
}
