package dynamodb

import (
	"testing"
)

// FuzzDecodeRequest feeds request bodies through the decoding every item
// operation (and UpdateTimeToLive) does before it touches a table: JSON,
// attribute values, the expression parameters and expressions. Bad input must give an *Error or a
// validation error, never a panic.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"TableName":"products","Item":{"product_id":{"S":"p1"},"price":{"N":"129.99"}},"ConditionExpression":"attribute_not_exists(product_id)"}`,
		`{"TableName":"t","Key":{"pk":{"S":"a"}},"UpdateExpression":"SET #p = #p + :d ADD n :one","ExpressionAttributeNames":{"#p":"price"},"ExpressionAttributeValues":{":d":{"N":"1"},":one":{"N":"1"}}}`,
		`{"TableName":"t","KeyConditionExpression":"pk = :p AND sk BETWEEN :a AND :b","ExpressionAttributeValues":{":p":{"S":"x"},":a":{"N":"1"},":b":{"N":"2"}},"Limit":3}`,
		`{"TableName":"t","Item":{"tags":{"SS":[]}}}`,
		`{"TransactItems":[{"Put":{"TableName":"t","Item":{"pk":{"S":"a"}}}}]}`,
		`{"Expected":{"a":{}}}`,
		`{"TableName":"orders","TimeToLiveSpecification":{"AttributeName":"expires_at","Enabled":true}}`,
		`{"TableName":"orders","TimeToLiveSpecification":{"AttributeName":"","Enabled":false}}`,
		`{"TableName":"orders","TimeToLiveSpecification":{"AttributeName":"x"}}`,
		`{`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := &request{body: body}
		var up updateItemInput
		if decode(req, &up) == nil {
			if c, err := up.compiler(); err == nil {
				if up.UpdateExpression != nil {
					_, _ = c.Update(*up.UpdateExpression)
				}
				if up.ConditionExpression != nil {
					_, _ = c.Condition(*up.ConditionExpression)
				}
				_ = c.Done()
			}
			_, _ = parseItem(up.Key, "Key")
		}
		var put putItemInput
		if decode(req, &put) == nil {
			_, _ = parseItem(put.Item, "Item")
		}
		var rd readInput
		if decode(req, &rd) == nil {
			if c, err := rd.compiler(); err == nil {
				if rd.FilterExpression != nil {
					_, _ = c.Filter(*rd.FilterExpression)
				}
				if rd.ProjectionExpression != nil {
					_, _ = c.Projection(*rd.ProjectionExpression)
				}
			}
		}
		var tx struct {
			TransactItems []transactItem `json:"TransactItems"`
		}
		_ = decode(req, &tx)
		if in, e := decodeUpdateTTL(req); e == nil && (in.TimeToLiveSpecification == nil || in.TimeToLiveSpecification.Enabled == nil) {
			t.Fatalf("UpdateTimeToLive accepted without a specification: %s", body)
		}
		_, _ = decodeIterator(string(body), []byte("0123456789abcdef"))
	})
}
