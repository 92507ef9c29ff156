package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
