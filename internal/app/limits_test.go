package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	kds "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/trigger"
)

// TestLimitsConsumerLagRefusesIngest runs a trigger on a stream whose
// function stalls: once it is more than ingest_max_lag_records behind,
// puts to the stream are refused (429 on the native API,
// ProvisionedThroughputExceededException on the Kinesis API), and accepted
// again when it has caught up.
func TestLimitsConsumerLagRefusesIngest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.IngestMaxLagRecords = 10
	cfg.HTTP.LagCheckInterval = 20 * time.Millisecond
	a, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	var calls atomic.Int64
	release := make(chan struct{})
	require.NoError(t, a.Functions().Register("stall", trigger.FunctionOf(func(ctx context.Context, _ *trigger.Batch) (trigger.Response, error) {
		if calls.Add(1) == 1 {
			return trigger.Response{}, nil // the first batch sets a checkpoint
		}
		select {
		case <-release:
			return trigger.Response{}, nil
		case <-ctx.Done():
			return trigger.Response{}, ctx.Err()
		}
	})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
		cancel()
		require.NoError(t, <-done)
	})
	url := "http://" + a.Addr()
	c := client.New(url)
	_, err = c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)
	spec, err := trigger.ParseSpec([]byte("name: slow\nsource: stream:clicks\nfunction: go:stall\nbatch_size: 1\nfunction_timeout: 1m\n"))
	require.NoError(t, err)
	_, err = a.Triggers().Create(ctx, spec)
	require.NoError(t, err)

	put := func(n int) error {
		recs := make([]api.PutRecord, n)
		for i := range recs {
			recs[i] = api.PutRecord{PartitionKey: "k", Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
		}
		_, err := c.PutRecords(ctx, "clicks", recs)
		return err
	}
	require.NoError(t, put(1))
	require.Eventually(t, func() bool { return calls.Load() >= 1 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, put(30)) // the trigger stalls on the second record
	var ce *client.Error
	require.Eventually(t, func() bool {
		err := put(1)
		return errors.As(err, &ce) && ce.Status == 429
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "throttled", ce.Code)
	require.Contains(t, ce.Message, `stream "clicks": trigger "slow" is`)
	require.Contains(t, ce.Message, "records behind (limit 10)")

	sdk := kds.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1, Credentials: aws.AnonymousCredentials{}})
	_, err = sdk.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("k"), Data: []byte(`{}`)})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "ProvisionedThroughputExceededException", ae.ErrorCode())

	close(release)
	released = true
	require.Eventually(t, func() bool { return put(1) == nil }, 20*time.Second, 20*time.Millisecond)
}

// TestLimitsTableWriteRate: table writes through the DynamoDB API take
// their items from the client's bucket of http.table_write_rate_limit
// items a second; a write beyond it is refused with
// ProvisionedThroughputExceededException (which the AWS SDKs retry),
// writes nothing, and is counted; reads are not limited.
func TestLimitsTableWriteRate(t *testing.T) {
	ctx := context.Background()
	a := startWriteLimited(t)
	url := "http://" + a.Addr()
	db := ddb.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	_, err := db.CreateTable(ctx, &ddb.CreateTableInput{
		TableName:            aws.String("orders"),
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("order_id"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("order_id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	require.NoError(t, err)
	batch := func(from int) error {
		reqs := make([]ddbtypes.WriteRequest, 25)
		for i := range reqs {
			reqs[i] = ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{
				"order_id": &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("o%03d", from+i)},
			}}}
		}
		_, err := db.BatchWriteItem(ctx, &ddb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{"orders": reqs}})
		return err
	}
	for i := range 4 { // the burst: 100 items
		require.NoError(t, batch(25*i))
	}
	err = batch(100)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "ProvisionedThroughputExceededException", ae.ErrorCode())
	require.Contains(t, ae.ErrorMessage(), "over its table write rate limit of 1 items/s (burst 100)")

	out, err := db.Scan(ctx, &ddb.ScanInput{TableName: aws.String("orders"), Select: ddbtypes.SelectCount, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err, "reads are not limited")
	require.EqualValues(t, 100, out.Count, "the refused batch wrote nothing")

	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), `pricestream_http_refused_total{reason="table_rate"} 1`)
}

// TestLimitsTableWriteRateNative: the native table API takes its writes
// from the same bucket, and answers 429 throttled beyond it.
func TestLimitsTableWriteRateNative(t *testing.T) {
	ctx := context.Background()
	a := startWriteLimited(t)
	c := client.New("http://" + a.Addr())
	_, err := c.CreateTable(ctx, api.TableSpec{Name: "orders", PartitionKey: api.KeyAttr{Name: "order_id", Type: "S"}})
	require.NoError(t, err)
	batch := func(b int) error {
		puts := make([]json.RawMessage, 25)
		for i := range puts {
			puts[i] = json.RawMessage(fmt.Sprintf(`{"order_id":"o%03d"}`, 25*b+i))
		}
		_, err := c.BatchWrite(ctx, "orders", api.BatchRequest{Puts: puts})
		return err
	}
	// A batch the table refuses (more than 25 items) spends nothing.
	_, err = c.BatchWrite(ctx, "orders", api.BatchRequest{Puts: slices.Repeat([]json.RawMessage{json.RawMessage(`{"order_id":"x"}`)}, 26)})
	require.True(t, client.IsCode(err, "invalid_argument"), "%v", err)
	for b := range 4 { // the burst: 100 items
		require.NoError(t, batch(b))
	}
	// 25 more items need 25 s of the rate: refused.
	err = batch(4)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 429, ce.Status)
	require.Equal(t, "throttled", ce.Code)
	require.Contains(t, ce.Message, "table write rate limit")
}

// startWriteLimited runs an app whose clients may write one table item a
// second, after a burst of 100.
func startWriteLimited(t *testing.T) *App {
	t.Helper()
	return runApp(t, func(cfg *Config) { cfg.HTTP.TableWriteRateLimit, cfg.HTTP.TableWriteRateBurst = 1, 100 })
}
