package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
)

// pricestream sim writes each order with expires_at --order-ttl of wall
// time ahead, or none with a negative --order-ttl.
func TestCLISimOrderTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  string
		want time.Duration // 0: no expires_at
	}{{"10m", 10 * time.Minute}, {"-1s", 0}} {
		t.Run("order-ttl="+tc.ttl, func(t *testing.T) {
			url, c := startShop(t)
			ctx := context.Background()
			start := time.Now()
			out, err := cli(t, "--server", url, "sim", "--products", "5", "--views-per-second", "400", "--speed", "200",
				"--duration", "2m", "--flat", "--order-ttl", tc.ttl)
			require.NoError(t, err, out)
			page, err := c.Scan(ctx, "orders", api.ReadRequest{})
			require.NoError(t, err)
			require.NotEmpty(t, page.Items, "the shop placed orders")
			for _, raw := range page.Items {
				var o struct {
					ExpiresAt *int64 `json:"expires_at"`
				}
				require.NoError(t, json.Unmarshal(raw, &o))
				if tc.want == 0 {
					require.Nil(t, o.ExpiresAt, "order %s", raw)
					continue
				}
				require.NotNil(t, o.ExpiresAt, "order %s", raw)
				at := time.Unix(*o.ExpiresAt, 0)
				require.WithinRange(t, at, start.Add(tc.want).Add(-time.Second), time.Now().Add(tc.want).Add(time.Second), "order %s", raw)
			}
		})
	}
}

// The shop's events arrive whole, one record each, keyed by product: the
// simulator encodes a batch's events into one buffer and sends slices of
// it.
func TestCLISimSendsWholeEvents(t *testing.T) {
	url, c := startShop(t)
	out, err := cli(t, "--server", url, "sim", "--products", "20", "--views-per-second", "300", "--speed", "100",
		"--duration", "20s", "--flat")
	require.NoError(t, err, out)
	seen := map[string]bool{}
	eachRecord(t, c, "clicks", func(r client.Record) {
		var e struct {
			ID        string  `json:"event_id"`
			Type      string  `json:"event_type"`
			ProductID string  `json:"product_id"`
			Price     float64 `json:"price"`
		}
		require.NoError(t, json.Unmarshal(r.Data, &e), "record %s: %s", r.SequenceNumber, r.Data)
		require.NotEmpty(t, e.ID, "record %s: %s", r.SequenceNumber, r.Data)
		require.NotEmpty(t, e.Type, "record %s: %s", r.SequenceNumber, r.Data)
		require.Equal(t, r.PartitionKey, e.ProductID, "record %s: %s", r.SequenceNumber, r.Data)
		require.Positive(t, e.Price, "record %s: %s", r.SequenceNumber, r.Data)
		require.False(t, seen[e.ID], "event %s sent twice", e.ID)
		seen[e.ID] = true
	})
	require.Greater(t, len(seen), 1000, "batches of many events were sent")
}

// startShop starts a server with what the simulator writes to: a clicks
// stream of one partition and the products and orders tables.
func startShop(t *testing.T) (string, *client.Client) {
	t.Helper()
	url := startApp(t)
	ctx := context.Background()
	c := client.New(url)
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)
	for _, name := range []string{"products", "orders"} {
		key := "product_id"
		if name == "orders" {
			key = "order_id"
		}
		_, err := c.CreateTable(ctx, api.TableSpec{Name: name, PartitionKey: api.KeyAttr{Name: key, Type: "S"}})
		require.NoError(t, err)
	}
	return url, c
}
