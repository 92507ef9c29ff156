package kinesis_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kds "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/kinesis"
	"github.com/pricestream/pricestream/internal/api/sdktest"
	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, enginetest.LeakOptions()...) }

type fixture struct {
	url   string
	kc    *kds.Client
	h     *kinesis.Handler
	clock atomic.Int64 // offset added to the handler's clock
}

// start serves the Kinesis API on a loopback port over a fresh engine and
// returns an unmodified AWS SDK client pointed at it.
func start(t testing.TB) *fixture {
	t.Helper()
	e := enginetest.Start(t)
	reg := prometheus.NewRegistry()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	key, err := e.Secret(context.Background(), "kinesis-iterators")
	require.NoError(t, err)
	h, err := kinesis.New(kinesis.Config{}, kinesis.Deps{Streams: sm, IteratorKey: key, Registerer: reg})
	require.NoError(t, err)
	f := &fixture{h: h}
	h.SetClock(func() time.Time { return time.Now().Add(time.Duration(f.clock.Load())) })
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Streams: sm, Registerer: reg})
	require.NoError(t, err)
	srv.HandleTarget(kinesis.Target, h)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		sm.Close()
	})
	f.url = "http://" + srv.Addr().String()
	f.kc = kds.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(f.url),
		HTTPClient:       sdktest.HTTPClient{Client: hc},
		RetryMaxAttempts: 1,
	})
	return f
}

func apiErrorCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.NotEmpty(t, ae.ErrorMessage())
	return ae.ErrorCode()
}

func TestKinesisSDKRoundTrip(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	kc := f.kc
	_, err := kc.CreateStream(ctx, &kds.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(3)})
	require.NoError(t, err)

	var rnf *types.ResourceNotFoundException
	var riu *types.ResourceInUseException
	_, err = kc.CreateStream(ctx, &kds.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(1)})
	require.ErrorAs(t, err, &riu)

	desc, err := kc.DescribeStream(ctx, &kds.DescribeStreamInput{StreamName: aws.String("clicks")})
	require.NoError(t, err)
	sd := desc.StreamDescription
	require.Equal(t, types.StreamStatusActive, sd.StreamStatus)
	require.Equal(t, "arn:aws:kinesis:eu-west-1:000000000000:stream/clicks", aws.ToString(sd.StreamARN), "region from the request's signature")
	require.Equal(t, int32(24), aws.ToInt32(sd.RetentionPeriodHours))
	require.Len(t, sd.Shards, 3)
	require.Equal(t, "shardId-000000000001", aws.ToString(sd.Shards[1].ShardId))
	require.Equal(t, "113427455640312821154458202477256070485", aws.ToString(sd.Shards[1].HashKeyRange.StartingHashKey))
	require.Equal(t, "340282366920938463463374607431768211455", aws.ToString(sd.Shards[2].HashKeyRange.EndingHashKey))
	require.WithinDuration(t, time.Now(), aws.ToTime(sd.StreamCreationTimestamp), time.Minute)

	sum, err := kc.DescribeStreamSummary(ctx, &kds.DescribeStreamSummaryInput{StreamName: aws.String("clicks")})
	require.NoError(t, err)
	require.Equal(t, int32(3), aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount))

	ls, err := kc.ListStreams(ctx, &kds.ListStreamsInput{})
	require.NoError(t, err)
	require.Equal(t, []string{"clicks"}, ls.StreamNames)

	// ListShards pages.
	page1, err := kc.ListShards(ctx, &kds.ListShardsInput{StreamName: aws.String("clicks"), MaxResults: aws.Int32(2)})
	require.NoError(t, err)
	require.Len(t, page1.Shards, 2)
	require.NotNil(t, page1.NextToken)
	page2, err := kc.ListShards(ctx, &kds.ListShardsInput{NextToken: page1.NextToken})
	require.NoError(t, err)
	require.Len(t, page2.Shards, 1)
	require.Nil(t, page2.NextToken)
	require.Equal(t, "shardId-000000000002", aws.ToString(page2.Shards[0].ShardId))

	// PutRecord and PutRecords, binary data included.
	one, err := kc.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("a"), Data: []byte{0, 1, 2, 255}})
	require.NoError(t, err)
	require.Equal(t, "shardId-000000000000", aws.ToString(one.ShardId), "md5(a) is in the first third")
	entries := make([]types.PutRecordsRequestEntry, 500)
	for i := range entries {
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("product-%d", i%37)), Data: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	entries[7].ExplicitHashKey = aws.String("340282366920938463463374607431768211455")
	pr, err := kc.PutRecords(ctx, &kds.PutRecordsInput{StreamARN: aws.String("arn:aws:kinesis:eu-west-1:000000000000:stream/clicks"), Records: entries})
	require.NoError(t, err)
	require.Equal(t, int32(0), aws.ToInt32(pr.FailedRecordCount))
	require.Len(t, pr.Records, 500)
	require.Equal(t, "shardId-000000000002", aws.ToString(pr.Records[7].ShardId), "explicit hash key")

	// Read every shard from TRIM_HORIZON with the SDK's iterator loop.
	want := map[string][]byte{aws.ToString(one.SequenceNumber): {0, 1, 2, 255}}
	for i, r := range pr.Records {
		want[aws.ToString(r.SequenceNumber)] = entries[i].Data
	}
	got := map[string][]byte{}
	for _, sh := range sd.Shards {
		it, err := kc.GetShardIterator(ctx, &kds.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)
		iter := it.ShardIterator
		var last string
		for {
			out, err := kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(70)})
			require.NoError(t, err)
			for _, r := range out.Records {
				seq := aws.ToString(r.SequenceNumber)
				require.True(t, last == "" || lessSeq(last, seq), "sequence numbers increase within a shard")
				last = seq
				got[seq] = r.Data
				require.WithinDuration(t, time.Now(), aws.ToTime(r.ApproximateArrivalTimestamp), time.Minute)
			}
			require.NotNil(t, out.NextShardIterator)
			iter = out.NextShardIterator
			if len(out.Records) == 0 {
				require.Equal(t, int64(0), aws.ToInt64(out.MillisBehindLatest))
				break
			}
		}
	}
	require.Equal(t, want, got)

	// The other iterator types.
	shard0 := aws.String("shardId-000000000000")
	seqOne := one.SequenceNumber
	read := func(in *kds.GetShardIteratorInput) []types.Record {
		t.Helper()
		in.StreamName, in.ShardId = aws.String("clicks"), shard0
		it, err := kc.GetShardIterator(ctx, in)
		require.NoError(t, err)
		out, err := kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: it.ShardIterator})
		require.NoError(t, err)
		return out.Records
	}
	at := read(&kds.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: seqOne})
	require.Equal(t, aws.ToString(seqOne), aws.ToString(at[0].SequenceNumber))
	after := read(&kds.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: seqOne})
	require.Len(t, after, len(at)-1)
	require.Empty(t, read(&kds.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeLatest}))
	require.Len(t, read(&kds.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(-time.Hour))}), len(at))
	require.Empty(t, read(&kds.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(time.Now().Add(time.Hour))}))

	// Errors as Kinesis writes them.
	_, err = kc.DescribeStream(ctx, &kds.DescribeStreamInput{StreamName: aws.String("nope")})
	require.ErrorAs(t, err, &rnf)
	_, err = kc.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("nope"), PartitionKey: aws.String("a"), Data: []byte("x")})
	require.ErrorAs(t, err, &rnf)
	_, err = kc.GetShardIterator(ctx, &kds.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: aws.String("shardId-000000000009"), ShardIteratorType: types.ShardIteratorTypeLatest})
	require.ErrorAs(t, err, &rnf)
	var inv *types.InvalidArgumentException
	_, err = kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: aws.String("AAAAforged")})
	require.ErrorAs(t, err, &inv)
	it, err := kc.GetShardIterator(ctx, &kds.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: shard0, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	tampered := []byte(aws.ToString(it.ShardIterator))
	tampered[10] ^= 1
	_, err = kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: aws.String(string(tampered))})
	require.ErrorAs(t, err, &inv)
	f.clock.Store(int64(6 * time.Minute))
	var expired *types.ExpiredIteratorException
	_, err = kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.ErrorAs(t, err, &expired)
	f.clock.Store(0)
	_, err = kc.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String(""), Data: []byte("x")})
	require.Equal(t, "ValidationException", apiErrorCode(t, err))
	_, err = kc.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String(strings.Repeat("k", 257)), Data: []byte("x")})
	require.Equal(t, "ValidationException", apiErrorCode(t, err))
	_, err = kc.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20+1)})
	require.Equal(t, "ValidationException", apiErrorCode(t, err))
	tooMany := make([]types.PutRecordsRequestEntry, 501)
	for i := range tooMany {
		tooMany[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
	}
	_, err = kc.PutRecords(ctx, &kds.PutRecordsInput{StreamName: aws.String("clicks"), Records: tooMany})
	require.Equal(t, "ValidationException", apiErrorCode(t, err))
	_, err = kc.GetShardIterator(ctx, &kds.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: shard0, ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String("x1")})
	require.ErrorAs(t, err, &inv)
	_, err = kc.GetShardIterator(ctx, &kds.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: shard0, ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: pr.Records[7].SequenceNumber})
	require.ErrorAs(t, err, &inv, "a sequence number of another shard")

	// An iterator does not outlive its stream.
	_, err = kc.DeleteStream(ctx, &kds.DeleteStreamInput{StreamName: aws.String("clicks")})
	require.NoError(t, err)
	_, err = kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.ErrorAs(t, err, &rnf)
	_, err = kc.CreateStream(ctx, &kds.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(1)})
	require.NoError(t, err)
	_, err = kc.GetRecords(ctx, &kds.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.ErrorAs(t, err, &expired, "the new stream of the same name is another stream")
}

func lessSeq(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func TestKinesisRawProtocol(t *testing.T) {
	f := start(t)
	call := func(target, body string) (int, string, http.Header) {
		req, err := http.NewRequest(http.MethodPost, f.url+"/", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, h := call("Kinesis_20131202.CreateStream", `{"StreamName":"s","ShardCount":`)
	require.Equal(t, 400, code)
	require.Contains(t, body, `"__type":"SerializationException"`)
	require.Equal(t, "SerializationException", h.Get("X-Amzn-ErrorType"))
	code, body, _ = call("Kinesis_20131202.SplitShard", `{}`)
	require.Equal(t, 400, code)
	require.Contains(t, body, "UnknownOperationException")
	code, body, _ = call("Kinesis_20131202.CreateStream", `{"StreamName":"s"}`)
	require.Equal(t, 400, code)
	require.Contains(t, body, "ShardCount is required")
	code, body, _ = call("Kinesis_20131202.CreateStream", `{"StreamName":"s","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`)
	require.Equal(t, 200, code, body)
	code, body, _ = call("Kinesis_20131202.PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"not base64!"}]}`)
	require.Equal(t, 400, code, body)
	require.Contains(t, body, "SerializationException")
	code, body, _ = call("Kinesis_20131202.PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"eyJhIjoxfQ=="}]}`)
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"FailedRecordCount":0`)
	require.Contains(t, body, `"ShardId":"shardId-`)
	code, body, _ = call("Kinesis_20131202.DescribeStream", `{}`)
	require.Equal(t, 400, code)
	require.Contains(t, body, "either StreamName or StreamARN")
}

// FuzzKinesisRequest sends arbitrary bodies to every operation: the server
// must answer (2xx or a Kinesis 4xx error), never crash or fail internally.
func FuzzKinesisRequest(f *testing.F) {
	ops := []string{"CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary", "ListStreams", "ListShards", "PutRecord", "PutRecords", "GetShardIterator", "GetRecords"}
	fx := start(f)
	_, err := fx.kc.CreateStream(context.Background(), &kds.CreateStreamInput{StreamName: aws.String("fz"), ShardCount: aws.Int32(2)})
	require.NoError(f, err)
	it, err := fx.kc.GetShardIterator(context.Background(), &kds.GetShardIteratorInput{StreamName: aws.String("fz"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	require.NoError(f, err)
	for i := range ops {
		f.Add(uint8(i), []byte(`{"StreamName":"fz","ShardCount":2}`))
	}
	f.Add(uint8(6), []byte(`{"StreamName":"fz","PartitionKey":"k","Data":"eA==","ExplicitHashKey":"99"}`))
	f.Add(uint8(7), []byte(`{"StreamName":"fz","Records":[{"PartitionKey":"k","Data":"eA=="},{"PartitionKey":"","Data":null}]}`))
	f.Add(uint8(8), []byte(`{"StreamName":"fz","ShardId":"shardId-000000000001","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1e300}`))
	f.Add(uint8(8), []byte(`{"StreamARN":"arn:aws:kinesis:x:1:stream/fz","ShardId":"shardId-000000000001","ShardIteratorType":"AFTER_SEQUENCE_NUMBER","StartingSequenceNumber":"99999999999999999999999"}`))
	f.Add(uint8(9), []byte(`{"ShardIterator":"`+aws.ToString(it.ShardIterator)+`","Limit":3}`))
	f.Add(uint8(9), []byte(`{"ShardIterator":"AQ","Limit":-5}`))
	f.Add(uint8(5), []byte(`{"NextToken":"fz|shardId-9999999999999"}`))
	f.Add(uint8(2), []byte(`{"StreamName":"fz","Limit":0,"ExclusiveStartShardId":"shardId-"}`))
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := ops[int(op)%len(ops)]
		if name == "DeleteStream" {
			name = "DescribeStream" // keep the fixture's stream
		}
		req, err := http.NewRequestWithContext(auth.WithPrincipal(context.Background(), auth.Unrestricted), http.MethodPost, "/", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Amz-Target", kinesis.Target+"."+name)
		rec := newRecorder()
		fx.h.ServeHTTP(rec, req)
		if rec.status >= 500 {
			t.Fatalf("status %d for %s %q: %s", rec.status, name, body, rec.body.String())
		}
	})
}

type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}, status: 200} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.status = code }
