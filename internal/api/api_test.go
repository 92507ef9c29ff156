package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, enginetest.LeakOptions()...) }

type fixture struct {
	url     string
	c       *client.Client
	eng     *engine.Engine
	streams *stream.Manager
}

// start runs a real server on a loopback port over a fresh embedded engine.
func start(t *testing.T) *fixture {
	t.Helper()
	e := enginetest.Start(t)
	reg := prometheus.NewRegistry()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Streams: sm, Registerer: reg, Gatherer: reg})
	require.NoError(t, err)
	srv.AddReadyCheck("engine", e.Ready)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		sm.Close()
	})
	url := "http://" + srv.Addr().String()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return &fixture{url: url, c: client.New(url, client.WithHTTPClient(hc)), eng: e, streams: sm}
}

func requireCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var e *client.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, status, e.Status, e.Message)
	require.Equal(t, code, e.Code, e.Message)
	require.NotEmpty(t, e.Message)
}

func TestAPIStreamLifecycle(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	info, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 2, Retention: "2h", Description: "clicks"})
	require.NoError(t, err)
	require.Equal(t, "clicks", info.Name)
	require.Len(t, info.Partitions, 2)
	require.Equal(t, "2h0m0s", info.Retention)

	_, err = f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks"})
	requireCode(t, err, 409, "already_exists")
	_, err = f.c.CreateStream(ctx, api.StreamSpec{Name: "bad name!"})
	requireCode(t, err, 400, "invalid_argument")
	_, err = f.c.CreateStream(ctx, api.StreamSpec{Name: "x", Retention: "forever"})
	requireCode(t, err, 400, "invalid_argument")

	list, err := f.c.ListStreams(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	d, err := f.c.DescribeStream(ctx, "clicks")
	require.NoError(t, err)
	require.Equal(t, "clicks", d.Description)

	require.NoError(t, f.c.DeleteStream(ctx, "clicks"))
	_, err = f.c.DescribeStream(ctx, "clicks")
	requireCode(t, err, 404, "not_found")
	requireCode(t, f.c.DeleteStream(ctx, "clicks"), 404, "not_found")
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestAPIMalformedRequests(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "s", Partitions: 1, MaxRecordSize: 1000})
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		path, body string
		status     int
		code, msg  string
	}{
		"create: not JSON":       {"/v1/streams", `{"name":`, 400, "malformed_request", "unexpected EOF"},
		"create: unknown field":  {"/v1/streams", `{"name":"a","partitons":2}`, 400, "malformed_request", `unknown field "partitons"`},
		"put: not JSON":          {"/v1/streams/s/records", `{"records":[{"partition_key":"k","data":{]}`, 400, "malformed_request", ""},
		"put: no records":        {"/v1/streams/s/records", `{"records":[]}`, 400, "invalid_argument", "1-500 records"},
		"put: missing data":      {"/v1/streams/s/records", `{"records":[{"partition_key":"k"}]}`, 400, "invalid_argument", "records[0].data: missing"},
		"put: empty key":         {"/v1/streams/s/records", `{"records":[{"partition_key":"k","data":1},{"partition_key":"","data":2}]}`, 400, "invalid_argument", "records[1]: stream: invalid argument: partition key must be 1-256 characters"},
		"put: record too big":    {"/v1/streams/s/records", `{"records":[{"partition_key":"k","data":"` + strings.Repeat("x", 1000) + `"}]}`, 400, "invalid_argument", "maximum record size of 1000"},
		"put: unknown stream":    {"/v1/streams/nope/records", `{"records":[{"partition_key":"k","data":1}]}`, 404, "not_found", `"nope"`},
		"put: bad explicit hash": {"/v1/streams/s/records", `{"records":[{"partition_key":"k","explicit_hash_key":"x","data":1}]}`, 400, "invalid_argument", "explicit hash key"},
	} {
		status, body := post(t, f.url+tc.path, tc.body)
		require.Equal(t, tc.status, status, "%s: %s", name, body)
		var eb struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal([]byte(body), &eb), name)
		require.Equal(t, tc.code, eb.Error.Code, name)
		require.Contains(t, eb.Error.Message, tc.msg, name)
	}
	// 501 records.
	recs := make([]api.PutRecord, 501)
	for i := range recs {
		recs[i] = api.PutRecord{PartitionKey: "k", Data: json.RawMessage("1")}
	}
	_, err = f.c.PutRecords(ctx, "s", recs)
	requireCode(t, err, 400, "invalid_argument")
	// A body over the limit.
	status, body := post(t, f.url+"/v1/streams/s/records", `{"records":[{"partition_key":"k","data":"`+strings.Repeat("x", 17<<20)+`"}]}`)
	require.Equal(t, 413, status, body)
	require.Contains(t, body, "payload_too_large")
	// Bad read parameters.
	for _, q := range []string{"partition=x", "partition=9", "start=soon", "limit=0", "limit=10001", "wait=2h"} {
		_, err := f.c.GetRecords(ctx, "s", client.ReadOptions{})
		require.NoError(t, err)
		resp, err := http.Get(f.url + "/v1/streams/s/records?" + q)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 400, resp.StatusCode, q)
	}
	// Refused requests stored nothing.
	d, err := f.c.DescribeStream(ctx, "s")
	require.NoError(t, err)
	require.Zero(t, d.Batches)
}

func TestAPIPutAndRead(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 2})
	require.NoError(t, err)
	var recs []api.PutRecord
	for i := range 50 {
		recs = append(recs, api.PutRecord{
			PartitionKey: fmt.Sprintf("p%d", i%5),
			// Big ids and decimals stay as written.
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d,"category_id":2103807459595387724,"price":129.99,"s":"é\"x"}`, i)),
		})
	}
	res, err := f.c.PutRecords(ctx, "clicks", recs)
	require.NoError(t, err)
	require.Zero(t, res.FailedRecordCount)
	require.Len(t, res.Records, 50)

	seen := map[string]string{}
	for part := range 2 {
		out, err := f.c.GetRecords(ctx, "clicks", client.ReadOptions{Partition: part})
		require.NoError(t, err)
		for i, r := range out.Records {
			require.Equal(t, part, r.Partition)
			require.Equal(t, uint64(i), r.Offset)
			seen[r.SequenceNumber] = string(r.Data)
		}
		require.Equal(t, int64(0), out.MillisBehind)
	}
	require.Len(t, seen, 50)
	for i, r := range res.Records {
		require.Equal(t, string(recs[i].Data), seen[r.SequenceNumber])
	}

	// Reading from "next" returns nothing new; a long poll returns the next
	// record as soon as it is stored.
	first, err := f.c.GetRecords(ctx, "clicks", client.ReadOptions{Partition: 0, Start: "latest"})
	require.NoError(t, err)
	require.Empty(t, first.Records)
	var wg sync.WaitGroup
	var got *client.Records
	var gerr error
	wg.Go(func() {
		got, gerr = f.c.GetRecords(ctx, "clicks", client.ReadOptions{Partition: 0, Start: first.Next, Wait: 20 * time.Second})
	})
	// Put to partition 0 until the reader has it (the reader may subscribe
	// before or after the first put).
	key := keyFor(t, f, "clicks", 0)
	_, err = f.c.PutRecords(ctx, "clicks", []api.PutRecord{{PartitionKey: key, Data: json.RawMessage(`"late"`)}})
	require.NoError(t, err)
	wg.Wait()
	require.NoError(t, gerr)
	require.Len(t, got.Records, 1)
	require.Equal(t, `"late"`, string(got.Records[0].Data))
}

// keyFor finds a partition key that maps to the partition.
func keyFor(t *testing.T, f *fixture, name string, part int) string {
	t.Helper()
	st, err := f.streams.Open(context.Background(), name)
	require.NoError(t, err)
	for i := 0; ; i++ {
		k := fmt.Sprintf("key-%d", i)
		if p, _ := st.Partition(&stream.Entry{PartitionKey: k}); p == part {
			return k
		}
	}
}

func TestAPITailAndConsumers(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "t", Partitions: 3})
	require.NoError(t, err)
	put := func(n int, tag string) {
		var recs []api.PutRecord
		for i := range n {
			recs = append(recs, api.PutRecord{PartitionKey: fmt.Sprint(i), Data: json.RawMessage(fmt.Sprintf(`{"tag":%q,"i":%d}`, tag, i))})
		}
		_, err := f.c.PutRecords(ctx, "t", recs)
		require.NoError(t, err)
	}
	put(10, "before")

	var got []string
	err = f.c.Tail(ctx, "t", "trim_horizon", -1, func(r *client.Record) error {
		got = append(got, string(r.Data))
		if len(got) == 10 {
			return io.EOF
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 10)

	// Consumers: read, commit, resume, lag.
	total := 0
	for part := range 3 {
		r, err := f.c.ConsumerRecords(ctx, "t", "etl", client.ReadOptions{Partition: part, Limit: 2})
		require.NoError(t, err)
		if len(r.Records) > 0 {
			total += len(r.Records)
			last := r.Records[len(r.Records)-1]
			require.NoError(t, f.c.Commit(ctx, "t", "etl", part, last.SequenceNumber))
			again, err := f.c.ConsumerRecords(ctx, "t", "etl", client.ReadOptions{Partition: part, Limit: 1})
			require.NoError(t, err)
			if len(again.Records) > 0 {
				require.Equal(t, last.Offset+1, again.Records[0].Offset)
			}
		}
	}
	info, err := f.c.DescribeConsumer(ctx, "t", "etl")
	require.NoError(t, err)
	var behind uint64
	for _, p := range info.Partitions {
		behind += p.Records
	}
	require.Equal(t, uint64(10-total), behind)
	names, err := f.c.Consumers(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, []string{"etl"}, names)
	requireCode(t, f.c.Commit(ctx, "t", "etl", 0, "12"), 400, "invalid_argument")
	require.NoError(t, f.c.DeleteConsumer(ctx, "t", "etl"))
	requireCode(t, f.c.DeleteConsumer(ctx, "t", "etl"), 404, "not_found")
}

func TestAPIHealthAndMetrics(t *testing.T) {
	f := start(t)
	get := func(path string) (int, string) {
		resp, err := http.Get(f.url + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get("/healthz")
	require.Equal(t, 200, code)
	code, body := get("/readyz")
	require.Equal(t, 200, code, body)

	_, err := f.c.CreateStream(context.Background(), api.StreamSpec{Name: "m", Partitions: 1})
	require.NoError(t, err)
	_, err = f.c.PutRecords(context.Background(), "m", []api.PutRecord{{PartitionKey: "k", Data: json.RawMessage(`{}`)}})
	require.NoError(t, err)
	code, body = get("/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, body, `pricestream_stream_records_in_total{stream="m"} 1`)
	require.Contains(t, body, `pricestream_stream_put_seconds_bucket{stream="m"`)
	require.Contains(t, body, `pricestream_http_requests_total{code="200",route="POST /v1/streams/{stream}/records"} 1`)

	code, body = get("/nope")
	require.Equal(t, 404, code, body)
	resp, err := http.Post(f.url+"/", "application/x-amz-json-1.1", bytes.NewReader([]byte("{}")))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode, "POST / without a known X-Amz-Target")
	require.Equal(t, "UnknownOperationException", resp.Header.Get("X-Amzn-ErrorType"))

	// Not ready once the engine is gone.
	require.NoError(t, f.eng.Close())
	code, body = get("/readyz")
	require.Equal(t, 503, code, body)
	require.Contains(t, body, "engine")
}

// TestAPIPprof: the runtime's profiles are served under /debug/pprof/
// only when the configuration asks for them.
func TestAPIPprof(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	off := start(t)
	code, _ := get(off.url + "/debug/pprof/heap")
	require.Equal(t, 404, code, "profiles are off by default")

	on := startWith(t, api.Config{Pprof: true}, stream.Config{})
	code, body := get(on.url + "/debug/pprof/")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "goroutine")
	code, body = get(on.url + "/debug/pprof/heap?debug=1")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "heap profile:")
	code, body = get(on.url + "/debug/pprof/goroutine?debug=1")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, "goroutine profile:")
	code, body = get(on.url + "/debug/pprof/nope")
	require.Equal(t, 404, code, body)
}
