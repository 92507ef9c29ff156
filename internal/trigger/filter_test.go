package trigger

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/table/item"
)

func TestFilterPattern(t *testing.T) {
	const click = `{"data": {"event_type": "purchase", "price": 129.99, "brand": "Nike", "qty": 2,
		"tags": ["new", "sale"], "user": {"id": "u1", "tier": "gold"}, "coupon": null, "ok": true}}`
	for _, tc := range []struct {
		pattern string
		match   bool
	}{
		{`{"data": {"event_type": ["purchase"]}}`, true},
		{`{"data": {"event_type": ["view", "purchase"]}}`, true},
		{`{"data": {"event_type": ["view"]}}`, false},
		{`{"data": {"price": [129.99]}}`, true},
		{`{"data": {"price": [1.2999e2]}}`, true},
		{`{"data": {"price": ["129.99"]}}`, false},
		{`{"data": {"brand": [{"prefix": "Ni"}]}}`, true},
		{`{"data": {"brand": [{"prefix": "ni"}]}}`, false},
		{`{"data": {"brand": [{"suffix": "ke"}]}}`, true},
		{`{"data": {"brand": [{"equals-ignore-case": "NIKE"}]}}`, true},
		{`{"data": {"brand": [{"wildcard": "N*e"}]}}`, true},
		{`{"data": {"brand": [{"wildcard": "N*x"}]}}`, false},
		{`{"data": {"price": [{"numeric": [">", 100, "<=", 130]}]}}`, true},
		{`{"data": {"price": [{"numeric": [">", 130]}]}}`, false},
		{`{"data": {"qty": [{"numeric": ["=", 2]}]}}`, true},
		{`{"data": {"brand": [{"numeric": [">", 0]}]}}`, false},
		{`{"data": {"coupon": [null]}}`, true},
		{`{"data": {"coupon": [{"exists": true}]}}`, true},
		{`{"data": {"missing": [{"exists": false}]}}`, true},
		{`{"data": {"missing": [{"exists": true}]}}`, false},
		{`{"data": {"brand": [{"exists": false}]}}`, false},
		{`{"data": {"user": [{"exists": true}]}}`, false}, // exists matches leaves only
		{`{"data": {"ok": [true]}}`, true},
		{`{"data": {"ok": [false]}}`, false},
		{`{"data": {"tags": ["sale"]}}`, true}, // any element of an array
		{`{"data": {"tags": ["old"]}}`, false},
		{`{"data": {"user": {"tier": ["gold"]}}}`, true},
		{`{"data": {"user": {"tier": ["gold"], "id": ["u2"]}}}`, false}, // AND across fields
		{`{"data": {"event_type": [{"anything-but": "view"}]}}`, true},
		{`{"data": {"event_type": [{"anything-but": ["view", "purchase"]}]}}`, false},
		{`{"data": {"event_type": [{"anything-but": {"prefix": "pur"}}]}}`, false},
		{`{"data": {"missing": [{"anything-but": "x"}]}}`, false}, // anything-but needs the field
		{`{"data": {"price": [{"anything-but": [1, 2]}]}}`, true},
		{`{"data": {"missing": {"deeper": [{"exists": false}]}}}`, true},
		{`{"data": {"missing": {"deeper": ["x"]}}}`, false},
		{`{"other": ["x"]}`, false},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := ParsePattern([]byte(tc.pattern))
			require.NoError(t, err)
			doc, err := decodeJSON([]byte(click))
			require.NoError(t, err)
			require.Equal(t, tc.match, p.Match(doc.(map[string]any)))
		})
	}
}

func TestFilterPatternErrors(t *testing.T) {
	for _, tc := range []struct{ pattern, err string }{
		{``, "pattern is not JSON"},
		{`[1]`, "must be a JSON object"},
		{`{}`, "pattern is empty"},
		{`{"a": {}}`, "a: empty object"},
		{`{"a": 1}`, "a: want an object or an array of conditions, got a number"},
		{`{"a": []}`, "a: empty array"},
		{`{"a": [[1]]}`, "a: want a value or a condition object, got an array"},
		{`{"a": [{"prefix": 1}]}`, "a: prefix: want a string"},
		{`{"a": [{"prefix": "x", "suffix": "y"}]}`, "exactly one operator"},
		{`{"a": [{"exists": "yes"}]}`, "a: exists: want true or false"},
		{`{"a": [{"numeric": [">"]}]}`, "a: numeric: want [op, number]"},
		{`{"a": [{"numeric": ["~", 1]}]}`, "operator ~"},
		{`{"a": [{"numeric": [">", "1"]}]}`, "want a number after"},
		{`{"a": [{"numeric": ["=", 1, "<", 2]}]}`, "'=' stands alone"},
		{`{"a": [{"numeric": [">", 1e999]}]}`, "out of range"},
		{`{"a": [{"anything-but": []}]}`, "empty array"},
		{`{"a": [{"anything-but": {"exists": true}}]}`, "only prefix, suffix or equals-ignore-case"},
		{`{"a": [{"wildcard": "a**b"}]}`, "consecutive"},
		{`{"a": ["x"]} trailing`, "trailing data"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			_, err := ParsePattern([]byte(tc.pattern))
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestFilterWildcard(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		ok   bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abc", true},
		{"a*c", "ab", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"abc", "abc", true}, {"", "", true}, {"", "a", false},
	} {
		require.Equal(t, tc.ok, wildcard(tc.p, tc.s), "%q %q", tc.p, tc.s)
	}
}

// TestFilterView checks what patterns see of each kind of record: the
// parsed data of a stream record, and the DynamoDB Streams record of a
// table change.
func TestFilterView(t *testing.T) {
	r := &runner{src: testSource{}}
	v := r.view(&Record{Data: []byte(`{"price": 5}`)})
	p, err := ParsePattern([]byte(`{"data": {"price": [{"numeric": ["<", 10]}]}}`))
	require.NoError(t, err)
	require.True(t, p.Match(v))
	v = r.view(&Record{Data: []byte(`not json`)})
	p, err = ParsePattern([]byte(`{"data": [{"prefix": "not"}]}`))
	require.NoError(t, err)
	require.True(t, p.Match(v))

	ch := &Record{SequenceNumber: "7", Arrival: time.Unix(1, 0), Change: &Change{
		EventName: "MODIFY", Keys: item.Item{"product_id": item.StringValue("p1")},
		NewImage:       item.Item{"product_id": item.StringValue("p1"), "conversion": item.IntValue(3)},
		StreamViewType: "NEW_IMAGE",
	}}
	v = r.view(ch)
	p, err = ParsePattern([]byte(`{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"conversion": {"N": [{"numeric": [">", 0]}]}}}}`))
	require.NoError(t, err)
	require.True(t, p.Match(v))
	p, err = ParsePattern([]byte(`{"eventName": ["REMOVE"]}`))
	require.NoError(t, err)
	require.False(t, p.Match(v))
}

type testSource struct{}

func (testSource) Partitions() int { return 1 }
func (testSource) Open(_ context.Context, part int, from From) (PartitionReader, error) {
	return nil, nil
}

func (testSource) AppendRecord(dst []byte, r *Record) []byte {
	if r.Change != nil {
		return AppendDynamoDBRecord(dst, r, &EventMeta{Region: "us-east-1", SourceARN: "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x"})
	}
	return AppendKinesisRecord(dst, r, &EventMeta{Region: "us-east-1", SourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s"})
}

// TestRecordShapes checks the JSON records functions receive against the
// shapes of Lambda's Kinesis and DynamoDB Streams events.
func TestRecordShapes(t *testing.T) {
	arrival := time.UnixMilli(1545084650987)
	r := &Record{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", Partition: 6, Key: "1\"x", Arrival: arrival, Data: []byte(`{"a":1}`)}
	b := AppendKinesisRecord(nil, r, &EventMeta{Region: "us-east-2", SourceARN: "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"})
	require.JSONEq(t, `{
		"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1\"x",
			"sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
			"data": "eyJhIjoxfQ==", "approximateArrivalTimestamp": 1545084650.987},
		"eventSource": "aws:kinesis", "eventVersion": "1.0",
		"eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
		"eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::000000000000:role/pricestream",
		"awsRegion": "us-east-2", "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"}`, string(b))

	c := &Record{SequenceNumber: "111", Partition: 0, Arrival: time.Unix(1479499740, 0), Change: &Change{
		EventName:      "MODIFY",
		Keys:           item.Item{"Id": item.IntValue(101)},
		NewImage:       item.Item{"Id": item.IntValue(101), "Message": item.StringValue("This item has changed")},
		OldImage:       item.Item{"Id": item.IntValue(101), "Message": item.StringValue("New item!")},
		StreamViewType: "NEW_AND_OLD_IMAGES", SizeBytes: 59,
	}}
	b = AppendDynamoDBRecord(nil, c, &EventMeta{Region: "us-east-1", SourceARN: "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"})
	require.JSONEq(t, `{
		"eventID": "0000:111", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
		"dynamodb": {"ApproximateCreationDateTime": 1479499740.000, "Keys": {"Id": {"N": "101"}},
			"NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
			"OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
			"SequenceNumber": "111", "SizeBytes": 59, "StreamViewType": "NEW_AND_OLD_IMAGES"},
		"eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTableWithStream/stream/2015-06-27T00:48:05.899"}`, string(b))

	// A Time to Live deletion names the service, as Lambda's records of
	// DynamoDB's do.
	c = &Record{SequenceNumber: "112", Partition: 0, Arrival: time.Unix(1479499740, 0), Change: &Change{
		EventName: "REMOVE", Keys: item.Item{"Id": item.IntValue(101)},
		OldImage:       item.Item{"Id": item.IntValue(101), "ttl": item.IntValue(1479499000)},
		StreamViewType: "OLD_IMAGE", SizeBytes: 20, Expired: true,
	}}
	b = AppendDynamoDBRecord(nil, c, &EventMeta{Region: "us-east-1", SourceARN: "arn"})
	require.JSONEq(t, `{
		"eventID": "0000:112", "eventName": "REMOVE", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
		"dynamodb": {"ApproximateCreationDateTime": 1479499740.000, "Keys": {"Id": {"N": "101"}},
			"OldImage": {"ttl": {"N": "1479499000"}, "Id": {"N": "101"}},
			"SequenceNumber": "112", "SizeBytes": 20, "StreamViewType": "OLD_IMAGE"},
		"eventSourceARN": "arn",
		"userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}}`, string(b))

	// A batch is Lambda's event: {"Records": [...]}.
	batch := &Batch{Records: []*Record{r, r}, src: testSource{}}
	var ev struct{ Records []json.RawMessage }
	require.NoError(t, json.Unmarshal(batch.AppendEvent(nil), &ev))
	require.Len(t, ev.Records, 2)
}

func TestBackoff(t *testing.T) {
	base, maxD := 100*time.Millisecond, 2*time.Second
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{5, 800 * time.Millisecond, 1600 * time.Millisecond},
		{6, time.Second, 2 * time.Second},
		{60, time.Second, 2 * time.Second},
	} {
		for range 100 {
			d := backoff(tc.n, base, maxD)
			require.GreaterOrEqual(t, d, tc.min, "retry %d", tc.n)
			require.LessOrEqual(t, d, tc.max, "retry %d", tc.n)
		}
	}
}

// TestFilterImageAttrs: the attributes of a table change's images that
// filters read, which a projected trigger must still decode.
func TestFilterImageAttrs(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		names    []string
		whole    bool
	}{
		{nil, nil, false},
		{[]string{`{"eventName": ["INSERT"]}`}, nil, false},
		{[]string{`{"dynamodb": {"Keys": {"pk": {"S": ["a"]}}, "SizeBytes": [{"numeric": [">", 10]}]}}`}, nil, false},
		{[]string{`{"dynamodb": {"NewImage": {"price": {"N": [{"numeric": [">", 0]}]}, "cat": {"S": ["x"]}}}}`}, []string{"cat", "price"}, false},
		{[]string{
			`{"dynamodb": {"NewImage": {"price": {"N": [{"exists": true}]}}}}`,
			`{"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"gone": {"S": [{"exists": false}]}, "price": {"N": ["1"]}}}}`,
		}, []string{"gone", "price"}, false},
		{[]string{`{"dynamodb": {"NewImage": [{"exists": true}]}}`}, nil, true},
		{[]string{`{"eventName": ["INSERT"]}`, `{"dynamodb": [{"exists": true}]}`}, nil, true},
	} {
		var specs []Filter
		for _, p := range tc.patterns {
			specs = append(specs, Filter{Pattern: json.RawMessage(p)})
		}
		fs, err := CompileFilters(specs)
		require.NoError(t, err, tc.patterns)
		names, whole := fs.imageAttrs()
		require.Equal(t, tc.whole, whole, tc.patterns)
		if !tc.whole {
			require.Equal(t, tc.names, names, tc.patterns)
		}
	}
}
