package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/sdktest"
	"github.com/pricestream/pricestream/internal/client"
)

func TestCLITable(t *testing.T) {
	url := startApp(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := cli(t, append([]string{"--server", url, "table"}, args...)...)
		require.NoError(t, err, out)
		return out
	}
	out := run("create", "products", "--partition-key", "product_id:S")
	require.Contains(t, out, "created table products: key product_id:S, change stream NEW_AND_OLD_IMAGES")
	require.Contains(t, out, "change history all")
	run("create", "orders", "--partition-key", "customer", "--sort-key", "created_at:N", "--stream-view", "NONE")
	require.Contains(t, run("list"), "orders")
	out = run("create", "features", "--partition-key", "product_id", "--change-history", "latest")
	require.Contains(t, out, "change history latest")
	features, err := client.New(url).DescribeTable(context.Background(), "features")
	require.NoError(t, err)
	require.Equal(t, "latest", features.ChangeHistory)
	// apply says how an existing table differs from its file.
	tables := filepath.Join(t.TempDir(), "tables.yaml")
	require.NoError(t, os.WriteFile(tables, []byte("kind: table\nname: features\npartition_key: {name: product_id, type: S}\nchange_history: latest\n---\nkind: table\nname: products\npartition_key: {name: product_id, type: S}\nchange_history: latest\nchange_retention: 1h\n"), 0o644))
	out, err = cli(t, "--server", url, "apply", "-f", tables)
	require.NoError(t, err, out)
	require.Contains(t, out, "table features: exists\n")
	require.Contains(t, out, "table products: exists, but differs from the file (change_retention 24h0m0s here, 1h0m0s in the file; change_history all here, latest in the file): tables are not updated")
	// The TTL attribute, the one setting a table takes at run time, is set
	// as the file says, and turned off again.
	for _, ttl := range []string{"expires_at", ""} {
		doc := "kind: table\nname: features\npartition_key: {name: product_id, type: S}\nchange_history: latest\nttl_attribute: " + ttl + "\n"
		require.NoError(t, os.WriteFile(tables, []byte(doc), 0o644))
		out, err = cli(t, "--server", url, "apply", "-f", tables)
		require.NoError(t, err, out)
		require.Contains(t, out, fmt.Sprintf("table features: exists, ttl_attribute set to %q\n", ttl))
		features, err = client.New(url).DescribeTable(context.Background(), "features")
		require.NoError(t, err)
		require.Equal(t, ttl, features.TTLAttribute)
	}
	// It is set even where other settings differ, and said so.
	require.NoError(t, os.WriteFile(tables, []byte("kind: table\nname: features\npartition_key: {name: product_id, type: S}\nchange_history: all\nttl_attribute: expires_at\n"), 0o644))
	out, err = cli(t, "--server", url, "apply", "-f", tables)
	require.NoError(t, err, out)
	require.Contains(t, out, `table features: exists, ttl_attribute set to "expires_at", but differs from the file (change_history latest here, all in the file)`)
	features, err = client.New(url).DescribeTable(context.Background(), "features")
	require.NoError(t, err)
	require.Equal(t, "expires_at", features.TTLAttribute)
	out = run("create", "sessions", "--partition-key", "id", "--ttl-attribute", "expires_at")
	require.Contains(t, out, "ttl attribute expires_at")
	_, err = cli(t, "--server", url, "table", "create", "bad", "--partition-key", "id", "--change-history", "newest")
	require.ErrorContains(t, err, `change history "newest": want all or latest (400 invalid_argument)`)
	// A table of batched writes: made, described, refusing what it does
	// not take with a 400, and compared by apply.
	out = run("create", "rows", "--partition-key", "id", "--writes", "batched")
	require.Contains(t, out, "batched writes")
	rows, err := client.New(url).DescribeTable(context.Background(), "rows")
	require.NoError(t, err)
	require.Equal(t, "batched", rows.Writes)
	require.Equal(t, "item", features.Writes)
	run("put", "rows", `{"id":"a","n":1}`)
	require.Contains(t, run("get", "rows", "a"), `"n":1`)
	_, err = cli(t, "--server", url, "table", "create", "bad", "--partition-key", "id", "--writes", "batched", "--change-history", "latest")
	require.ErrorContains(t, err, "writes batched: the change history must be all")
	require.NoError(t, os.WriteFile(tables, []byte("kind: table\nname: rows\npartition_key: {name: id, type: S}\n"), 0o644))
	out, err = cli(t, "--server", url, "apply", "-f", tables)
	require.NoError(t, err, out)
	require.Contains(t, out, "table rows: exists, but differs from the file (writes batched here, item in the file)")

	if _, err := os.Stat(rees46); err == nil {
		out = run("load", "products", "--file", rees46)
		require.Contains(t, out, "0 rows rejected")
		// The sample's rows share product ids: the last row of each wins.
		info, err := client.New(url).DescribeTable(context.Background(), "products")
		require.NoError(t, err)
		require.Positive(t, info.Items)
		out = run("get", "products", "44600062")
		require.Contains(t, out, `"brand":"shiseido"`)
		require.Contains(t, out, `"category_id":2103807459595387724`, "ids beyond 2^53 stay exact")
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "orders.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"customer":"c1","created_at":1,"amount":10.5}
{"customer":"c1","created_at":2,"amount":20}
not json
{"created_at":3}
{"customer":"c2","created_at":"x"}
{"customer":"c1","created_at":4,"big":"`+strings.Repeat("x", 410*1024)+`"}
`), 0o644))
	out, err = cli(t, "--server", url, "table", "load", "orders", "--file", bad)
	require.ErrorAs(t, err, new(exitError), "rejected rows make the exit code non-zero")
	require.Contains(t, out, "loaded 2 items into orders")
	require.Contains(t, out, "4 rows rejected")

	out = run("query", "orders", "--key-condition", "customer = :c AND created_at > :t", "--values", `{":c":"c1",":t":0}`, "--backward")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, []string{`{"amount":20,"created_at":2,"customer":"c1"}`, `{"amount":10.5,"created_at":1,"customer":"c1"}`}, lines)
	out = run("put", "orders", `{"customer":"c1","created_at":2,"amount":21}`, "--condition", "amount = :t", "--values", `{":t":20}`)
	require.Contains(t, out, "ok")
	_, err = cli(t, "--server", url, "table", "put", "orders", `{"customer":"c1","created_at":2,"amount":22}`, "--condition", "amount = :t", "--values", `{":t":20}`)
	require.ErrorContains(t, err, "condition_failed")
	_, err = cli(t, "--server", url, "table", "query", "orders", "--key-condition", "customer = :c AND", "--values", `{":c":"c1"}`)
	require.ErrorContains(t, err, "Syntax error")
	require.ErrorContains(t, err, "<EOF>")
	out = run("scan", "orders", "--limit", "1")
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 1)

	out = run("changes", "products", "--limit", "2")
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 2)
	var ch api.ChangeJSON
	require.NoError(t, json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &ch))
	require.Equal(t, "INSERT", ch.Event)
	out = run("changes", "products", "--limit", "1", "--attributes", "product_id,nothing")
	require.NoError(t, json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &ch))
	var img map[string]any
	require.NoError(t, json.Unmarshal(ch.New, &img))
	require.Len(t, img, 1, "the image holds product_id only: %s", ch.New)
	require.Contains(t, img, "product_id")

	run("delete", "orders")
	_, err = cli(t, "--server", url, "table", "get", "orders", "c1", "1")
	require.ErrorContains(t, err, "not_found")
}

func TestTableNativeAPI(t *testing.T) {
	url := startApp(t)
	ctx := context.Background()
	c := client.New(url)
	_, err := c.CreateTable(ctx, api.TableSpec{Name: "products", PartitionKey: api.KeyAttr{Name: "id", Type: "N"}})
	require.NoError(t, err)
	_, err = c.CreateTable(ctx, api.TableSpec{Name: "products", PartitionKey: api.KeyAttr{Name: "id", Type: "N"}})
	require.True(t, client.IsCode(err, "already_exists"), "%v", err)
	_, err = c.CreateTable(ctx, api.TableSpec{Name: "x", PartitionKey: api.KeyAttr{Name: "id", Type: "Q"}})
	require.True(t, client.IsCode(err, "invalid_argument"), "%v", err)

	_, err = c.PutItem(ctx, "products", api.ItemRequest{Item: json.RawMessage(`{"id":12345678901234567890123,"price":129.99,"name":"shoe"}`)})
	require.NoError(t, err)
	it, err := c.GetItem(ctx, "products", false, "12345678901234567890123")
	require.NoError(t, err)
	require.JSONEq(t, `{"id":12345678901234567890123,"name":"shoe","price":129.99}`, string(it))
	require.Contains(t, string(it), "129.99", "numbers stay exact")

	res, err := c.UpdateItem(ctx, "products", api.ItemRequest{Update: "SET price = price + :d", Values: json.RawMessage(`{":d":0.01}`), ReturnValues: "ALL_NEW"}, "12345678901234567890123")
	require.NoError(t, err)
	require.Contains(t, string(res.Item), `"price":130`)

	_, err = c.UpdateItem(ctx, "products", api.ItemRequest{Update: "SET price = :p", Values: json.RawMessage(`{":p":1,":max":5}`), Condition: "price < :max"}, "12345678901234567890123")
	require.True(t, client.IsCode(err, "condition_failed"), "%v", err)
	_, err = c.GetItem(ctx, "products", false, "x")
	require.True(t, client.IsCode(err, "invalid_argument"), "%v", err)
	_, err = c.GetItem(ctx, "products", false, "1")
	require.True(t, client.IsCode(err, "not_found"), "%v", err)
	_, err = c.GetItem(ctx, "nope", false, "1")
	require.True(t, client.IsCode(err, "not_found"), "%v", err)
	resp, err := http.Post(url+"/v1/tables/products/items", "application/json", strings.NewReader(`{"item":{"id":1,}}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	_, err = c.PutItem(ctx, "products", api.ItemRequest{Item: json.RawMessage(`{"id":"1"}`)})
	require.True(t, client.IsCode(err, "invalid_argument"), "%v", err)
	require.ErrorContains(t, err, "Type mismatch for key id")

	ch, err := c.Changes(ctx, "products", "trim_horizon", 10)
	require.NoError(t, err)
	require.Len(t, ch.Changes, 2)
	require.Equal(t, "MODIFY", ch.Changes[1].Event)
	require.Contains(t, string(ch.Changes[1].Old), "129.99")

	// A tail sees a change as it is stored.
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got := make(chan api.ChangeJSON, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.TailChanges(tctx, "products", "after:"+ch.Changes[1].Seq, func(c *api.ChangeJSON) error { got <- *c; return errStopTail })
	}()
	_, err = c.PutItem(ctx, "products", api.ItemRequest{Item: json.RawMessage(`{"id":2}`)})
	require.NoError(t, err)
	select {
	case c := <-got:
		require.Equal(t, "INSERT", c.Event)
	case <-tctx.Done():
		t.Fatal("no change tailed")
	}
	require.ErrorIs(t, <-done, errStopTail)

	// A reader of a few attributes asks for those: the images hold them
	// only (those the item has), on a read and on a tail alike.
	ch, err = c.Changes(ctx, "products", "trim_horizon", 10, "price", "missing")
	require.NoError(t, err)
	require.Len(t, ch.Changes, 3)
	require.JSONEq(t, `{"price":130}`, string(ch.Changes[1].New))
	require.JSONEq(t, `{"price":129.99}`, string(ch.Changes[1].Old))
	require.JSONEq(t, `{"id":12345678901234567890123}`, string(ch.Changes[1].Keys), "keys stay whole")
	require.JSONEq(t, `{}`, string(ch.Changes[2].New))
	go func() {
		done <- c.TailChanges(tctx, "products", "after:"+ch.Changes[2].Seq, func(c *api.ChangeJSON) error { got <- *c; return errStopTail }, "id", "name")
	}()
	_, err = c.PutItem(ctx, "products", api.ItemRequest{Item: json.RawMessage(`{"id":3,"name":"boot","price":99}`)})
	require.NoError(t, err)
	select {
	case c := <-got:
		require.JSONEq(t, `{"id":3,"name":"boot"}`, string(c.New))
	case <-tctx.Done():
		t.Fatal("no change tailed")
	}
	require.ErrorIs(t, <-done, errStopTail)
	for _, bad := range []string{"", "price,", " , name"} {
		resp, err := http.Get(url + "/v1/tables/products/changes?attributes=" + neturl.QueryEscape(bad))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "attributes=%q", bad)
		require.Contains(t, string(body), "an empty name", "attributes=%q", bad)
		resp, err = http.Get(url + "/v1/tables/products/changes/tail?attributes=" + neturl.QueryEscape(bad))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "tail attributes=%q", bad)
	}
}

var errStopTail = fmt.Errorf("stop")

// TestServeSIGKILLNeverHalfAppliesTransactions kills the real binary with
// SIGKILL while clients run transactions that move units between two items
// of one table and count them in another, restarts it, and checks that
// every transaction applied wholly or not at all; three times.
func TestServeSIGKILLNeverHalfAppliesTransactions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	dir := t.TempDir()
	ctx := context.Background()
	sv := func(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
	nv := func(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }
	key := func(id string) map[string]types.AttributeValue { return map[string]types.AttributeValue{"id": sv(id)} }
	var acked atomic.Int64
	for round := range 3 {
		s := startServer(t, dir)
		hc := &http.Client{Transport: &http.Transport{}}
		db := ddb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
			BaseEndpoint: aws.String(s.url), HTTPClient: sdktest.HTTPClient{Client: hc}, RetryMaxAttempts: 1})
		if round == 0 {
			for _, name := range []string{"accounts", "ledger"} {
				_, err := db.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String(name),
					AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
					KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}}})
				require.NoError(t, err)
			}
			for _, id := range []string{"x", "y"} {
				_, err := db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("accounts"), Item: map[string]types.AttributeValue{"id": sv(id), "n": nv("1000")}})
				require.NoError(t, err)
			}
			_, err := db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("ledger"), Item: map[string]types.AttributeValue{"id": sv("moves"), "n": nv("0")}})
			require.NoError(t, err)
		}
		// Whatever survived the previous kill is whole.
		checkLedger(t, db, key, int(acked.Load()))

		pctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var n atomic.Int64
		for range 4 {
			wg.Go(func() {
				for pctx.Err() == nil {
					_, err := db.TransactWriteItems(pctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
						{Update: &types.Update{TableName: aws.String("accounts"), Key: key("x"), UpdateExpression: aws.String("ADD n :m"), ExpressionAttributeValues: map[string]types.AttributeValue{":m": nv("-1")}}},
						{Update: &types.Update{TableName: aws.String("accounts"), Key: key("y"), UpdateExpression: aws.String("ADD n :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": nv("1")}}},
						{Update: &types.Update{TableName: aws.String("ledger"), Key: key("moves"), UpdateExpression: aws.String("ADD n :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": nv("1")}}},
					}})
					if err == nil {
						n.Add(1)
						acked.Add(1)
					}
				}
			})
		}
		require.Eventually(t, func() bool { return n.Load() >= 50 }, 60*time.Second, 5*time.Millisecond)
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
		_ = s.cmd.Wait()
		stop()
		wg.Wait()
		hc.CloseIdleConnections()
	}
	s := startServer(t, dir)
	db := ddb.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), BaseEndpoint: aws.String(s.url), RetryMaxAttempts: 1})
	checkLedger(t, db, key, int(acked.Load()))
	t.Logf("%d acknowledged transactions, all whole after 3 SIGKILLs", acked.Load())
}

// checkLedger checks that the accounts sum to 2000, that the ledger counts
// exactly the units moved, and that no acknowledged move was lost.
func checkLedger(t *testing.T, db *ddb.Client, key func(string) map[string]types.AttributeValue, acked int) {
	t.Helper()
	ctx := context.Background()
	num := func(table, id string) int {
		out, err := db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true)})
		require.NoError(t, err)
		var n int
		_, err = fmt.Sscan(out.Item["n"].(*types.AttributeValueMemberN).Value, &n)
		require.NoError(t, err)
		return n
	}
	x, y, moves := num("accounts", "x"), num("accounts", "y"), num("ledger", "moves")
	require.Equal(t, 2000, x+y, "x=%d y=%d", x, y)
	require.Equal(t, moves, y-1000, "ledger %d, moved %d", moves, y-1000)
	require.GreaterOrEqual(t, moves, acked, "acknowledged transactions kept")
}
