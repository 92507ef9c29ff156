package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/dynamodb"
	"github.com/pricestream/pricestream/internal/api/sdktest"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

type fixture struct {
	url string
	db  *ddb.Client
	st  *dynamodbstreams.Client
	tm  *table.Manager
}

// start serves the DynamoDB APIs on a loopback port over a fresh engine
// and returns unmodified AWS SDK clients pointed at it.
func start(t testing.TB) *fixture {
	t.Helper()
	return startWith(t, table.Config{})
}

// startWith is start with the table manager configured as tc says.
func startWith(t testing.TB, tc table.Config) *fixture {
	t.Helper()
	e := enginetest.Start(t)
	reg := prometheus.NewRegistry()
	tm, err := table.New(tc, table.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	key, err := e.Secret(context.Background(), "dynamodb-iterators")
	require.NoError(t, err)
	h, err := dynamodb.New(dynamodb.Config{}, dynamodb.Deps{Tables: tm, IteratorKey: key, Registerer: reg})
	require.NoError(t, err)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Tables: tm, Registerer: reg})
	require.NoError(t, err)
	srv.HandleTarget(dynamodb.Target, h)
	srv.HandleTarget(dynamodb.StreamsTarget, h)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		tm.Close()
	})
	f := &fixture{url: "http://" + srv.Addr().String(), tm: tm}
	cfg := aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(f.url),
		HTTPClient:       sdktest.HTTPClient{Client: hc},
		RetryMaxAttempts: 1,
	}
	f.db = ddb.NewFromConfig(cfg)
	f.st = dynamodbstreams.NewFromConfig(cfg)
	return f
}

func errCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.NotEmpty(t, ae.ErrorMessage())
	return ae.ErrorCode()
}

// Product is how a shop's code models its catalog.
type Product struct {
	ProductID string   `dynamodbav:"product_id"`
	Name      string   `dynamodbav:"name"`
	Price     float64  `dynamodbav:"price"`
	Inventory int      `dynamodbav:"inventory"`
	Tags      []string `dynamodbav:"tags,stringset,omitempty"`
	Revision  int      `dynamodbav:"price_revision"`
}

func createProducts(t *testing.T, f *fixture, view types.StreamViewType) {
	t.Helper()
	in := &ddb.CreateTableInput{
		TableName:            aws.String("products"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("product_id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("product_id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}
	if view != "" {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view}
	}
	_, err := f.db.CreateTable(context.Background(), in)
	require.NoError(t, err)
}

func TestDynamoDBSDKTables(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	createProducts(t, f, types.StreamViewTypeNewAndOldImages)
	_, err := f.db.CreateTable(ctx, &ddb.CreateTableInput{
		TableName:            aws.String("orders"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("customer"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("created_at"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("customer"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("created_at"), KeyType: types.KeyTypeRange}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	require.NoError(t, err)

	_, err = f.db.CreateTable(ctx, &ddb.CreateTableInput{
		TableName:            aws.String("products"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("product_id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("product_id"), KeyType: types.KeyTypeHash}},
	})
	var riu *types.ResourceInUseException
	require.ErrorAs(t, err, &riu)

	d, err := f.db.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String("products")})
	require.NoError(t, err)
	require.Equal(t, types.TableStatusActive, d.Table.TableStatus)
	require.Equal(t, "arn:aws:dynamodb:eu-west-1:000000000000:table/products", aws.ToString(d.Table.TableArn))
	require.Equal(t, types.StreamViewTypeNewAndOldImages, d.Table.StreamSpecification.StreamViewType)
	require.Contains(t, aws.ToString(d.Table.LatestStreamArn), "table/products/stream/")

	// The SDK's waiter works.
	w := ddb.NewTableExistsWaiter(f.db)
	require.NoError(t, w.Wait(ctx, &ddb.DescribeTableInput{TableName: aws.String("orders")}, time.Minute))

	l, err := f.db.ListTables(ctx, &ddb.ListTablesInput{Limit: aws.Int32(1)})
	require.NoError(t, err)
	require.Equal(t, []string{"orders"}, l.TableNames)
	l, err = f.db.ListTables(ctx, &ddb.ListTablesInput{ExclusiveStartTableName: l.LastEvaluatedTableName})
	require.NoError(t, err)
	require.Equal(t, []string{"products"}, l.TableNames)

	_, err = f.db.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String("nope")})
	var rnf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &rnf)
	_, err = f.db.DeleteTable(ctx, &ddb.DeleteTableInput{TableName: aws.String("orders")})
	require.NoError(t, err)
	_, err = f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{"customer": &types.AttributeValueMemberS{Value: "c"}, "created_at": &types.AttributeValueMemberN{Value: "1"}}})
	require.ErrorAs(t, err, &rnf)
}

func TestDynamoDBSDKItems(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	createProducts(t, f, "")

	p := Product{ProductID: "p1", Name: "Runner", Price: 129.99, Inventory: 10, Tags: []string{"shoes", "sale"}}
	av, err := attributevalue.MarshalMap(p)
	require.NoError(t, err)
	_, err = f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("products"), Item: av})
	require.NoError(t, err)

	key := map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: "p1"}}
	got, err := f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("products"), Key: key, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "129.99", got.Item["price"].(*types.AttributeValueMemberN).Value, "exact decimal")
	var back Product
	require.NoError(t, attributevalue.UnmarshalMap(got.Item, &back))
	require.Equal(t, p.Name, back.Name)
	require.ElementsMatch(t, p.Tags, back.Tags)

	// A guarded price write, with the expression builder as a shop writes it.
	upd := expression.Set(expression.Name("price"), expression.Value(119.99)).
		Add(expression.Name("price_revision"), expression.Value(1))
	cond := expression.Name("price_revision").Equal(expression.Value(0))
	ex, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	require.NoError(t, err)
	uo, err := f.db.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: aws.String("products"), Key: key, UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ReturnValues: types.ReturnValueUpdatedNew,
	})
	require.NoError(t, err)
	require.Equal(t, "119.99", uo.Attributes["price"].(*types.AttributeValueMemberN).Value)
	require.Equal(t, "1", uo.Attributes["price_revision"].(*types.AttributeValueMemberN).Value)

	// The same guarded write again fails, carrying the item when asked.
	_, err = f.db.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: aws.String("products"), Key: key, UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	require.ErrorAs(t, err, &ccf)
	require.Equal(t, "119.99", ccf.Item["price"].(*types.AttributeValueMemberN).Value)

	// Bad input: a malformed expression names the token; wrong key types;
	// an oversized item; an unknown table. Nothing is written.
	_, err = f.db.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("products"), Key: key, UpdateExpression: aws.String("SET price = price +")})
	require.Equal(t, "ValidationException", errCode(t, err))
	require.ErrorContains(t, err, "Invalid UpdateExpression: Syntax error; token: \"<EOF>\"")
	_, err = f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("products"), Key: map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberN{Value: "1"}}})
	require.Equal(t, "ValidationException", errCode(t, err))
	require.ErrorContains(t, err, "Type mismatch for key")
	_, err = f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("products"), Item: map[string]types.AttributeValue{"name": &types.AttributeValueMemberS{Value: "x"}}})
	require.ErrorContains(t, err, "Missing the key product_id")
	big := make([]byte, 401*1024)
	_, err = f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("products"), Item: map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: "big"}, "b": &types.AttributeValueMemberB{Value: big}}})
	require.Equal(t, "ValidationException", errCode(t, err))
	_, err = f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("nope"), Item: av})
	var rnf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &rnf)
	_, err = f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("products"), Item: av, ExpressionAttributeValues: map[string]types.AttributeValue{":unused": &types.AttributeValueMemberN{Value: "1"}}})
	require.ErrorContains(t, err, "unused in expressions")

	// Batches and pagination.
	var reqs []types.WriteRequest
	for i := range 25 {
		item, err := attributevalue.MarshalMap(Product{ProductID: fmt.Sprintf("b%02d", i), Name: "bulk", Price: float64(i) + 0.5, Inventory: i})
		require.NoError(t, err)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	bw, err := f.db.BatchWriteItem(ctx, &ddb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"products": reqs}})
	require.NoError(t, err)
	require.Empty(t, bw.UnprocessedItems)
	bg, err := f.db.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"products": {
		Keys: []map[string]types.AttributeValue{key, {"product_id": &types.AttributeValueMemberS{Value: "b03"}}, {"product_id": &types.AttributeValueMemberS{Value: "none"}}},
	}}})
	require.NoError(t, err)
	require.Len(t, bg.Responses["products"], 2)

	filt, err := expression.NewBuilder().WithFilter(expression.Name("inventory").GreaterThanEqual(expression.Value(20))).
		WithProjection(expression.NamesList(expression.Name("product_id"), expression.Name("inventory"))).Build()
	require.NoError(t, err)
	pager := ddb.NewScanPaginator(f.db, &ddb.ScanInput{TableName: aws.String("products"), Limit: aws.Int32(7), FilterExpression: filt.Filter(),
		ProjectionExpression: filt.Projection(), ExpressionAttributeNames: filt.Names(), ExpressionAttributeValues: filt.Values()})
	var ids []string
	pages := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, it := range page.Items {
			require.Len(t, it, 2)
			ids = append(ids, it["product_id"].(*types.AttributeValueMemberS).Value)
		}
	}
	require.Equal(t, []string{"b20", "b21", "b22", "b23", "b24"}, ids)
	require.Equal(t, 4, pages)

	cnt, err := f.db.Scan(ctx, &ddb.ScanInput{TableName: aws.String("products"), Select: types.SelectCount})
	require.NoError(t, err)
	require.Equal(t, int32(26), cnt.Count)

	_, err = f.db.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("products"), Key: key, ConditionExpression: aws.String("attribute_exists(product_id)")})
	require.NoError(t, err)
	got, err = f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("products"), Key: key})
	require.NoError(t, err)
	require.Nil(t, got.Item)
}

func TestDynamoDBSDKQuery(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	_, err := f.db.CreateTable(ctx, &ddb.CreateTableInput{
		TableName:            aws.String("orders"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("customer"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("created_at"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("customer"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("created_at"), KeyType: types.KeyTypeRange}},
	})
	require.NoError(t, err)
	for i := range 30 {
		_, err := f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("orders"), Item: map[string]types.AttributeValue{
			"customer": &types.AttributeValueMemberS{Value: fmt.Sprintf("c%d", i%3)}, "created_at": &types.AttributeValueMemberN{Value: fmt.Sprint(1000 + i)},
			"status": &types.AttributeValueMemberS{Value: []string{"new", "paid"}[i%2]},
		}})
		require.NoError(t, err)
	}
	kc := expression.Key("customer").Equal(expression.Value("c1")).And(expression.Key("created_at").GreaterThan(expression.Value(1005)))
	ex, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	require.NoError(t, err)
	q, err := f.db.Query(ctx, &ddb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(),
		ExpressionAttributeValues: ex.Values(), ScanIndexForward: aws.Bool(false), Limit: aws.Int32(3)})
	require.NoError(t, err)
	require.Len(t, q.Items, 3)
	require.Equal(t, "1028", q.Items[0]["created_at"].(*types.AttributeValueMemberN).Value)
	require.NotNil(t, q.LastEvaluatedKey)
	q, err = f.db.Query(ctx, &ddb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: ex.KeyCondition(), ExpressionAttributeNames: ex.Names(),
		ExpressionAttributeValues: ex.Values(), ScanIndexForward: aws.Bool(false), ExclusiveStartKey: q.LastEvaluatedKey})
	require.NoError(t, err)
	require.Len(t, q.Items, 5) // 1019 ... 1007
	require.Equal(t, "1019", q.Items[0]["created_at"].(*types.AttributeValueMemberN).Value)

	_, err = f.db.Query(ctx, &ddb.QueryInput{TableName: aws.String("orders"), KeyConditionExpression: aws.String("status = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "new"}}})
	require.Equal(t, "ValidationException", errCode(t, err))
}

func TestDynamoDBSDKTransactions(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	createProducts(t, f, "")
	key := func(id string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: id}}
	}
	_, err := f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("products"), Item: map[string]types.AttributeValue{
		"product_id": &types.AttributeValueMemberS{Value: "shoe"}, "inventory": &types.AttributeValueMemberN{Value: "1"}}})
	require.NoError(t, err)
	buy := func(order string) error {
		_, err := f.db.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String("products"), Key: key("shoe"), UpdateExpression: aws.String("SET inventory = inventory - :one"),
				ConditionExpression: aws.String("inventory >= :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Put: &types.Put{TableName: aws.String("products"), Item: map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: order}}}},
		}})
		return err
	}
	require.NoError(t, buy("order-1"))
	err = buy("order-2")
	var tce *types.TransactionCanceledException
	require.ErrorAs(t, err, &tce)
	require.Len(t, tce.CancellationReasons, 2)
	require.Equal(t, "ConditionalCheckFailed", aws.ToString(tce.CancellationReasons[0].Code))
	require.Equal(t, "0", tce.CancellationReasons[0].Item["inventory"].(*types.AttributeValueMemberN).Value)
	require.Equal(t, "None", aws.ToString(tce.CancellationReasons[1].Code))
	got, err := f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("products"), Key: key("order-2"), ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	require.Nil(t, got.Item, "nothing of a canceled transaction is written")
}

func TestDynamoDBSDKAtomicCounter(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	createProducts(t, f, "")
	key := map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: "c"}}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				_, err := f.db.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("products"), Key: key, UpdateExpression: aws.String("ADD n :one"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("products"), Key: key, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "200", got.Item["n"].(*types.AttributeValueMemberN).Value)
}

func TestDynamoDBSDKStreams(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	createProducts(t, f, types.StreamViewTypeNewAndOldImages)
	put := func(id, price string) {
		_, err := f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("products"), Item: map[string]types.AttributeValue{
			"product_id": &types.AttributeValueMemberS{Value: id}, "price": &types.AttributeValueMemberN{Value: price}}})
		require.NoError(t, err)
	}
	put("a", "1")
	put("a", "2")
	put("a", "2") // no change, no record
	_, err := f.db.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("products"), Key: map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: "a"}}})
	require.NoError(t, err)

	ls, err := f.st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String("products")})
	require.NoError(t, err)
	require.Len(t, ls.Streams, 1)
	arn := ls.Streams[0].StreamArn
	ds, err := f.st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	require.NoError(t, err)
	require.Equal(t, stypes.StreamStatusEnabled, ds.StreamDescription.StreamStatus)
	require.Equal(t, stypes.StreamViewTypeNewAndOldImages, ds.StreamDescription.StreamViewType)
	require.Len(t, ds.StreamDescription.Shards, 1)
	shard := ds.StreamDescription.Shards[0].ShardId

	it, err := f.st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: shard, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	recs, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Len(t, recs.Records, 3)
	var names []stypes.OperationType
	for _, r := range recs.Records {
		names = append(names, r.EventName)
	}
	require.Equal(t, []stypes.OperationType{stypes.OperationTypeInsert, stypes.OperationTypeModify, stypes.OperationTypeRemove}, names)
	mod := recs.Records[1].Dynamodb
	require.Equal(t, "1", mod.OldImage["price"].(*stypes.AttributeValueMemberN).Value)
	require.Equal(t, "2", mod.NewImage["price"].(*stypes.AttributeValueMemberN).Value)
	require.Equal(t, "a", mod.Keys["product_id"].(*stypes.AttributeValueMemberS).Value)
	require.NotNil(t, mod.ApproximateCreationDateTime)

	// Continue from the next iterator: nothing until the next write.
	recs2, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: recs.NextShardIterator})
	require.NoError(t, err)
	require.Empty(t, recs2.Records)
	put("b", "3")
	recs2, err = f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: recs2.NextShardIterator})
	require.NoError(t, err)
	require.Len(t, recs2.Records, 1)

	// AFTER_SEQUENCE_NUMBER and AT_SEQUENCE_NUMBER.
	it, err = f.st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: shard, ShardIteratorType: stypes.ShardIteratorTypeAfterSequenceNumber,
		SequenceNumber: recs.Records[0].Dynamodb.SequenceNumber})
	require.NoError(t, err)
	after, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1)})
	require.NoError(t, err)
	require.Equal(t, recs.Records[1].Dynamodb.SequenceNumber, after.Records[0].Dynamodb.SequenceNumber)
	it, err = f.st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: shard, ShardIteratorType: stypes.ShardIteratorTypeAtSequenceNumber,
		SequenceNumber: recs.Records[2].Dynamodb.SequenceNumber})
	require.NoError(t, err)
	at, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Len(t, at.Records, 2)
	require.Equal(t, stypes.OperationTypeRemove, at.Records[0].EventName)

	_, err = f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("forged")})
	require.Error(t, err)
	_, err = f.st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String("arn:aws:dynamodb:eu-west-1:000000000000:table/products/stream/2001-01-01T00:00:00.000")})
	var rnf *stypes.ResourceNotFoundException
	require.True(t, errors.As(err, &rnf), "%v", err)
}

// A table of batched writes through the SDK (made through the native
// API: DynamoDB has no such setting): BatchWriteItem and PutItem work,
// UpdateItem and a condition are refused as invalid, and the stream's
// records carry positions without gaps, from which an iterator
// continues.
func TestDynamoDBSDKBatchedTable(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	_, err := f.tm.Create(ctx, table.Spec{Name: "rows", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "id", Type: item.S}},
		StreamView: table.ViewNewImage, Writes: table.WritesBatched})
	require.NoError(t, err)
	var reqs []types.WriteRequest
	for i := range 25 {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: fmt.Sprintf("r%02d", i)}, "n": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}}}})
	}
	bw, err := f.db.BatchWriteItem(ctx, &ddb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"rows": reqs}})
	require.NoError(t, err)
	require.Empty(t, bw.UnprocessedItems["rows"])
	key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "r03"}}
	_, err = f.db.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("rows"), Key: key, UpdateExpression: aws.String("SET n = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "9"}}})
	require.Equal(t, "ValidationException", errCode(t, err))
	require.ErrorContains(t, err, "batched")
	_, err = f.db.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("rows"), Item: key, ConditionExpression: aws.String("attribute_not_exists(id)")})
	require.Equal(t, "ValidationException", errCode(t, err))
	got, err := f.db.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("rows"), Key: key, ConsistentRead: aws.Bool(true)})
	require.NoError(t, err)
	require.Equal(t, "3", got.Item["n"].(*types.AttributeValueMemberN).Value)

	ls, err := f.st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String("rows")})
	require.NoError(t, err)
	require.Len(t, ls.Streams, 1)
	arn := ls.Streams[0].StreamArn
	ds, err := f.st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	require.NoError(t, err)
	shard := ds.StreamDescription.Shards[0].ShardId
	require.Equal(t, "1", trimSeq(aws.ToString(ds.StreamDescription.Shards[0].SequenceNumberRange.StartingSequenceNumber)))
	it, err := f.st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: shard, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	var seqs []string
	next := it.ShardIterator
	for len(seqs) < 25 {
		recs, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next, Limit: aws.Int32(10)})
		require.NoError(t, err)
		require.NotEmpty(t, recs.Records)
		for _, r := range recs.Records {
			seqs = append(seqs, trimSeq(aws.ToString(r.Dynamodb.SequenceNumber)))
		}
		next = recs.NextShardIterator
	}
	for i, s := range seqs {
		require.Equal(t, fmt.Sprint(i+1), s)
	}
	it, err = f.st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: shard, ShardIteratorType: stypes.ShardIteratorTypeAtSequenceNumber,
		SequenceNumber: aws.String("13")})
	require.NoError(t, err)
	at, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(1)})
	require.NoError(t, err)
	require.Equal(t, "r12", at.Records[0].Dynamodb.Keys["id"].(*stypes.AttributeValueMemberS).Value)
}

// trimSeq drops a sequence number's leading zeros.
func trimSeq(s string) string { return strings.TrimLeft(s, "0") }

// Time to Live through the SDK: turned on, described, refused where
// DynamoDB refuses; an item whose time has passed is deleted, and its
// stream record names the service as its user identity.
func TestDynamoDBSDKTimeToLive(t *testing.T) {
	f := startWith(t, table.Config{CompactInterval: 50 * time.Millisecond})
	ctx := context.Background()
	createProducts(t, f, types.StreamViewTypeNewAndOldImages)
	products := aws.String("products")
	desc, err := f.db.DescribeTimeToLive(ctx, &ddb.DescribeTimeToLiveInput{TableName: products})
	require.NoError(t, err)
	require.Equal(t, types.TimeToLiveStatusDisabled, desc.TimeToLiveDescription.TimeToLiveStatus)

	ttl := func(attr string, on bool) error {
		_, err := f.db.UpdateTimeToLive(ctx, &ddb.UpdateTimeToLiveInput{TableName: products,
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(on)}})
		return err
	}
	require.Equal(t, "ValidationException", errCode(t, ttl("expires_at", false)), "already disabled")
	require.NoError(t, ttl("expires_at", true))
	require.Equal(t, "ValidationException", errCode(t, ttl("expires_at", true)), "already enabled")
	require.Equal(t, "ValidationException", errCode(t, ttl("other", true)), "enabled on another attribute")
	_, err = f.db.UpdateTimeToLive(ctx, &ddb.UpdateTimeToLiveInput{TableName: aws.String("missing"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("x"), Enabled: aws.Bool(true)}})
	require.Equal(t, "ResourceNotFoundException", errCode(t, err))
	desc, err = f.db.DescribeTimeToLive(ctx, &ddb.DescribeTimeToLiveInput{TableName: products})
	require.NoError(t, err)
	require.Equal(t, types.TimeToLiveStatusEnabled, desc.TimeToLiveDescription.TimeToLiveStatus)
	require.Equal(t, "expires_at", aws.ToString(desc.TimeToLiveDescription.AttributeName))

	put := func(id string, exp int64) {
		_, err := f.db.PutItem(ctx, &ddb.PutItemInput{TableName: products, Item: map[string]types.AttributeValue{
			"product_id": &types.AttributeValueMemberS{Value: id}, "expires_at": &types.AttributeValueMemberN{Value: strconv.FormatInt(exp, 10)}}})
		require.NoError(t, err)
	}
	put("old", time.Now().Unix()-10)
	put("new", time.Now().Unix()+3600)
	polltest.Until(t, 10*time.Second, func() error {
		out, err := f.db.GetItem(ctx, &ddb.GetItemInput{TableName: products, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"product_id": &types.AttributeValueMemberS{Value: "old"}}})
		if err != nil || out.Item != nil {
			return fmt.Errorf("old still there (%v)", err)
		}
		return nil
	})
	ls, err := f.st.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: products})
	require.NoError(t, err)
	ds, err := f.st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: ls.Streams[0].StreamArn})
	require.NoError(t, err)
	it, err := f.st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: ls.Streams[0].StreamArn,
		ShardId: ds.StreamDescription.Shards[0].ShardId, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	require.NoError(t, err)
	recs, err := f.st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Len(t, recs.Records, 3)
	var rm stypes.Record // the expiry may come before or after new's INSERT
	for _, r := range recs.Records {
		if r.EventName == stypes.OperationTypeRemove {
			rm = r
			continue
		}
		require.Nil(t, r.UserIdentity, "a writer's change has no user identity")
	}
	require.Equal(t, stypes.OperationTypeRemove, rm.EventName)
	require.Equal(t, "old", rm.Dynamodb.Keys["product_id"].(*stypes.AttributeValueMemberS).Value)
	require.NotNil(t, rm.UserIdentity)
	require.Equal(t, "Service", aws.ToString(rm.UserIdentity.Type))
	require.Equal(t, "dynamodb.amazonaws.com", aws.ToString(rm.UserIdentity.PrincipalId))

	require.NoError(t, ttl("expires_at", false))
	desc, err = f.db.DescribeTimeToLive(ctx, &ddb.DescribeTimeToLiveInput{TableName: products})
	require.NoError(t, err)
	require.Equal(t, types.TimeToLiveStatusDisabled, desc.TimeToLiveDescription.TimeToLiveStatus)
}
