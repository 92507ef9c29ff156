package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/client"
)

func putJSON(recs ...string) []api.PutRecord {
	out := make([]api.PutRecord, len(recs))
	for i, r := range recs {
		out[i] = api.PutRecord{PartitionKey: "k", Data: json.RawMessage(r)}
	}
	return out
}

// readAllRecords reads every record of a one-partition stream.
func readAllRecords(t *testing.T, c *client.Client, stream string) []client.Record {
	t.Helper()
	r, err := c.GetRecords(context.Background(), stream, client.ReadOptions{Limit: 10000})
	require.NoError(t, err)
	return r.Records
}

func TestAPIIngestCheck(t *testing.T) {
	f := startCatalog(t)
	ctx := context.Background()
	c := f.c
	for _, s := range []string{"clicks", "clicks-dlq"} {
		_, err := c.CreateStream(ctx, api.StreamSpec{Name: s, Partitions: 1})
		require.NoError(t, err)
	}
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)
	_, err = c.CreateCatalogTable(ctx, clicksTable(t, "event_id string not null, price double not null, ts timestamp('yyyy-MM-dd HH:mm:ss z')"))
	require.NoError(t, err)
	good := `{"event_id":"e1","price":35.79,"ts":"2019-10-01 00:00:00 UTC"}`
	bad := `{"event_id":"e2","price":"cheap","ts":"yesterday"}`

	// unbound: no check, the answer as always
	res, err := c.PutRecords(ctx, "clicks", putJSON(good, bad))
	require.NoError(t, err)
	require.Zero(t, res.FailedRecordCount)
	require.Zero(t, res.DeadLetteredCount)

	// bindings are checked when made
	_, err = c.Bind(ctx, catalog.Binding{Stream: "nope", Database: "shop", Table: "clicks", Policy: catalog.PolicyReject})
	requireCode(t, err, 404, "not_found")
	_, err = c.Bind(ctx, catalog.Binding{Stream: "clicks", Database: "shop", Table: "nope", Policy: catalog.PolicyReject})
	requireCode(t, err, 404, "not_found")
	_, err = c.Bind(ctx, catalog.Binding{Stream: "clicks", Database: "shop", Table: "clicks", Policy: catalog.PolicyDeadLetter})
	requireCode(t, err, 400, "invalid_argument")
	require.ErrorContains(t, err, "dead_letter_stream: required by the dead_letter policy")

	// reject: the put is refused, naming the record and every violation
	_, err = c.Bind(ctx, catalog.Binding{Stream: "clicks", Database: "shop", Table: "clicks", Policy: catalog.PolicyReject})
	require.NoError(t, err)
	_, err = c.PutRecords(ctx, "clicks", putJSON(good, bad, `{"price":1}`))
	requireCode(t, err, 400, "schema_mismatch")
	require.ErrorContains(t, err, `stream "clicks": 2 of 3 records do not match table shop.clicks (version 1): records[1]: 2 violations: price: expected double: cannot cast string "cheap" to double: not a number; ts: expected timestamp('yyyy-MM-dd HH:mm:ss z'):`)
	require.ErrorContains(t, err, `records[2]: 1 violation: event_id: missing`)
	require.Len(t, readAllRecords(t, c, "clicks"), 2, "nothing of the refused put is stored")
	res, err = c.PutRecords(ctx, "clicks", putJSON(good, good))
	require.NoError(t, err)
	require.Zero(t, res.FailedRecordCount)

	// dead_letter: good records stored, bad ones to the dead-letter stream
	// with the reason; the producer sees success for both
	_, err = c.Bind(ctx, catalog.Binding{Stream: "clicks", Database: "shop", Table: "clicks", Policy: catalog.PolicyDeadLetter, DeadLetter: "clicks-dlq"})
	require.NoError(t, err)
	res, err = c.PutRecords(ctx, "clicks", putJSON(bad, good))
	require.NoError(t, err)
	require.Zero(t, res.FailedRecordCount)
	require.Equal(t, 1, res.DeadLetteredCount)
	require.Equal(t, "clicks-dlq", res.Records[0].DeadLetterStream)
	require.Contains(t, res.Records[0].Reason, "price: expected double")
	require.NotEmpty(t, res.Records[0].SequenceNumber)
	require.Empty(t, res.Records[1].DeadLetterStream)
	require.Len(t, readAllRecords(t, c, "clicks"), 5)
	dl := readAllRecords(t, c, "clicks-dlq")
	require.Len(t, dl, 1)
	require.Equal(t, "k", dl[0].PartitionKey)
	var d api.DeadLetter
	require.NoError(t, json.Unmarshal(dl[0].Data, &d))
	require.Equal(t, "clicks", d.Stream)
	require.Equal(t, "shop.clicks", d.Table)
	require.Equal(t, 1, d.TableVersion)
	require.JSONEq(t, bad, string(d.Data))
	require.Equal(t, []api.Violation{
		{Path: "price", Reason: `expected double: cannot cast string "cheap" to double: not a number`},
		{Path: "ts", Reason: d.Violations[1].Reason},
	}, d.Violations)
	require.Contains(t, d.Violations[1].Reason, "expected timestamp('yyyy-MM-dd HH:mm:ss z')")

	// a new table version applies to the next put at once
	_, err = c.PutCatalogTable(ctx, clicksTable(t, "event_id string not null, price double not null, ts timestamp('yyyy-MM-dd HH:mm:ss z'), color string"), 0)
	require.NoError(t, err)
	res, err = c.PutRecords(ctx, "clicks", putJSON(`{"event_id":"e3","price":1,"color":"red"}`))
	require.NoError(t, err)
	require.Zero(t, res.DeadLetteredCount, "color is a column now")

	// a bound table cannot be deleted
	err = c.DeleteCatalogTable(ctx, "shop", "clicks")
	requireCode(t, err, 409, "conflict")

	bs, err := c.ListBindings(ctx)
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.NoError(t, c.Unbind(ctx, "clicks"))
	res, err = c.PutRecords(ctx, "clicks", putJSON(bad))
	require.NoError(t, err)
	require.Zero(t, res.DeadLetteredCount, "unbound: no check")
	require.Len(t, readAllRecords(t, c, "clicks-dlq"), 1)
	err = c.Unbind(ctx, "clicks")
	requireCode(t, err, 404, "not_found")
}
