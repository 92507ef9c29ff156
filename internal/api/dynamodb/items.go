package dynamodb

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// exprParams are the expression parameters most item operations share.
type exprParams struct {
	ExpressionAttributeNames  map[string]string `json:"ExpressionAttributeNames"`
	ExpressionAttributeValues json.RawMessage   `json:"ExpressionAttributeValues"`
	// Legacy parameters, refused.
	Expected            json.RawMessage `json:"Expected"`
	AttributesToGet     json.RawMessage `json:"AttributesToGet"`
	AttributeUpdates    json.RawMessage `json:"AttributeUpdates"`
	KeyConditions       json.RawMessage `json:"KeyConditions"`
	QueryFilter         json.RawMessage `json:"QueryFilter"`
	ScanFilter          json.RawMessage `json:"ScanFilter"`
	ConditionalOperator json.RawMessage `json:"ConditionalOperator"`
}

func (p *exprParams) compiler() (*expr.Compiler, error) {
	for name, raw := range map[string]json.RawMessage{"Expected": p.Expected, "AttributesToGet": p.AttributesToGet, "AttributeUpdates": p.AttributeUpdates,
		"KeyConditions": p.KeyConditions, "QueryFilter": p.QueryFilter, "ScanFilter": p.ScanFilter, "ConditionalOperator": p.ConditionalOperator} {
		if len(raw) > 0 && string(raw) != "null" {
			return nil, validation("the legacy parameter %s is not supported: use expressions (ConditionExpression, UpdateExpression, KeyConditionExpression, FilterExpression, ProjectionExpression)", name)
		}
	}
	var vals map[string]item.Value
	if len(p.ExpressionAttributeValues) > 0 && string(p.ExpressionAttributeValues) != "null" {
		it, err := item.ParseItem(p.ExpressionAttributeValues, "ExpressionAttributeValues")
		if err != nil {
			return nil, err
		}
		vals = map[string]item.Value(it)
		if vals == nil {
			vals = map[string]item.Value{}
		}
	}
	return expr.NewCompiler(p.ExpressionAttributeNames, vals)
}

func parseItem(raw json.RawMessage, root string) (item.Item, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(root))
	}
	return item.ParseItem(raw, root)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

func parseKey(t *table.Table, raw json.RawMessage) (item.Key, error) {
	ki, err := parseItem(raw, "Key")
	if err != nil {
		return item.Key{}, err
	}
	return t.ParseKey(ki)
}

func attrs(it item.Item) json.RawMessage {
	if it == nil {
		return nil
	}
	return it.AppendJSON(nil)
}

type writeOutput struct {
	Attributes json.RawMessage `json:"Attributes,omitempty"`
}

// writeFailure is the error of a failed write, with the item when
// the request asked for it.
func (h *Handler) writeFailure(err error, name, onFailure string) *Error {
	e := h.toError(err, name)
	var ce *table.ConditionError
	if onFailure == "ALL_OLD" && errors.As(err, &ce) && ce.Item != nil {
		e.Item = ce.Item.AppendJSON(nil)
	}
	return e
}

type putItemInput struct {
	TableName                           string          `json:"TableName"`
	Item                                json.RawMessage `json:"Item"`
	ConditionExpression                 *string         `json:"ConditionExpression"`
	ReturnValues                        string          `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string          `json:"ReturnValuesOnConditionCheckFailure"`
	exprParams
}

func (h *Handler) putItem(ctx context.Context, req *request) (any, *Error) {
	var in putItemInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if err := h.admitWrite(ctx, 1); err != nil {
		return nil, err
	}
	t, derr := h.openTable(ctx, in.TableName, "write")
	if derr != nil {
		return nil, derr
	}
	it, err := parseItem(in.Item, "Item")
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	c, err := in.compiler()
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	var opts table.WriteOptions
	if in.ConditionExpression != nil {
		if opts.Condition, err = c.Condition(*in.ConditionExpression); err != nil {
			return nil, h.toError(err, in.TableName)
		}
	}
	if err := c.Done(); err != nil {
		return nil, h.toError(err, in.TableName)
	}
	rv, err := table.ParseReturnValues(in.ReturnValues)
	if err != nil || (rv != table.ReturnNone && rv != table.ReturnAllOld) {
		return nil, validation("ReturnValues can only be ALL_OLD or NONE")
	}
	res, err := t.Put(ctx, it, opts)
	if err != nil {
		return nil, h.writeFailure(err, in.TableName, in.ReturnValuesOnConditionCheckFailure)
	}
	return writeOutput{Attributes: attrs(res.Returned(rv, nil))}, nil
}

type getItemInput struct {
	TableName            string          `json:"TableName"`
	Key                  json.RawMessage `json:"Key"`
	ConsistentRead       bool            `json:"ConsistentRead"`
	ProjectionExpression *string         `json:"ProjectionExpression"`
	exprParams
}

func (h *Handler) getItem(ctx context.Context, req *request) (any, *Error) {
	var in getItemInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	t, derr := h.openTable(ctx, in.TableName, "read")
	if derr != nil {
		return nil, derr
	}
	k, err := parseKey(t, in.Key)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	c, err := in.compiler()
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	opts := table.GetOptions{Consistent: in.ConsistentRead}
	if in.ProjectionExpression != nil {
		if opts.Projection, err = c.Projection(*in.ProjectionExpression); err != nil {
			return nil, h.toError(err, in.TableName)
		}
	}
	if err := c.Done(); err != nil {
		return nil, h.toError(err, in.TableName)
	}
	it, err := t.Get(ctx, k, opts)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	return struct {
		Item json.RawMessage `json:"Item,omitempty"`
	}{attrs(it)}, nil
}

type updateItemInput struct {
	TableName                           string          `json:"TableName"`
	Key                                 json.RawMessage `json:"Key"`
	UpdateExpression                    *string         `json:"UpdateExpression"`
	ConditionExpression                 *string         `json:"ConditionExpression"`
	ReturnValues                        string          `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string          `json:"ReturnValuesOnConditionCheckFailure"`
	exprParams
}

func (h *Handler) updateItem(ctx context.Context, req *request) (any, *Error) {
	var in updateItemInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if err := h.admitWrite(ctx, 1); err != nil {
		return nil, err
	}
	t, derr := h.openTable(ctx, in.TableName, "write")
	if derr != nil {
		return nil, derr
	}
	k, err := parseKey(t, in.Key)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	c, err := in.compiler()
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	if in.UpdateExpression == nil {
		return nil, validation("an UpdateExpression is required (AttributeUpdates is not supported)")
	}
	u, err := c.Update(*in.UpdateExpression)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	var opts table.WriteOptions
	if in.ConditionExpression != nil {
		if opts.Condition, err = c.Condition(*in.ConditionExpression); err != nil {
			return nil, h.toError(err, in.TableName)
		}
	}
	if err := c.Done(); err != nil {
		return nil, h.toError(err, in.TableName)
	}
	rv, err := table.ParseReturnValues(in.ReturnValues)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	res, err := t.Update(ctx, k, u, opts)
	if err != nil {
		return nil, h.writeFailure(err, in.TableName, in.ReturnValuesOnConditionCheckFailure)
	}
	return writeOutput{Attributes: attrs(res.Returned(rv, u))}, nil
}

type deleteItemInput struct {
	TableName                           string          `json:"TableName"`
	Key                                 json.RawMessage `json:"Key"`
	ConditionExpression                 *string         `json:"ConditionExpression"`
	ReturnValues                        string          `json:"ReturnValues"`
	ReturnValuesOnConditionCheckFailure string          `json:"ReturnValuesOnConditionCheckFailure"`
	exprParams
}

func (h *Handler) deleteItem(ctx context.Context, req *request) (any, *Error) {
	var in deleteItemInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if err := h.admitWrite(ctx, 1); err != nil {
		return nil, err
	}
	t, derr := h.openTable(ctx, in.TableName, "write")
	if derr != nil {
		return nil, derr
	}
	k, err := parseKey(t, in.Key)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	c, err := in.compiler()
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	var opts table.WriteOptions
	if in.ConditionExpression != nil {
		if opts.Condition, err = c.Condition(*in.ConditionExpression); err != nil {
			return nil, h.toError(err, in.TableName)
		}
	}
	if err := c.Done(); err != nil {
		return nil, h.toError(err, in.TableName)
	}
	rv, err := table.ParseReturnValues(in.ReturnValues)
	if err != nil || (rv != table.ReturnNone && rv != table.ReturnAllOld) {
		return nil, validation("ReturnValues can only be ALL_OLD or NONE")
	}
	res, err := t.Delete(ctx, k, opts)
	if err != nil {
		return nil, h.writeFailure(err, in.TableName, in.ReturnValuesOnConditionCheckFailure)
	}
	return writeOutput{Attributes: attrs(res.Returned(rv, nil))}, nil
}

type readInput struct {
	TableName              string          `json:"TableName"`
	IndexName              *string         `json:"IndexName"`
	KeyConditionExpression *string         `json:"KeyConditionExpression"`
	FilterExpression       *string         `json:"FilterExpression"`
	ProjectionExpression   *string         `json:"ProjectionExpression"`
	Select                 string          `json:"Select"`
	Limit                  *int            `json:"Limit"`
	ExclusiveStartKey      json.RawMessage `json:"ExclusiveStartKey"`
	ScanIndexForward       *bool           `json:"ScanIndexForward"`
	ConsistentRead         bool            `json:"ConsistentRead"`
	Segment                *int            `json:"Segment"`
	TotalSegments          *int            `json:"TotalSegments"`
	exprParams
}

type readOutput struct {
	Items            []json.RawMessage `json:"Items,omitempty"`
	Count            int               `json:"Count"`
	ScannedCount     int               `json:"ScannedCount"`
	LastEvaluatedKey json.RawMessage   `json:"LastEvaluatedKey,omitempty"`
}

type compiledRead struct {
	kc     *expr.KeyCondition
	filter *expr.Condition
	proj   *expr.Projection
	start  *item.Key
	limit  int
	count  bool
}

func (h *Handler) compileRead(t *table.Table, in *readInput, query bool) (*compiledRead, *Error) {
	if in.IndexName != nil {
		return nil, validation("The table does not have the specified index: %s", *in.IndexName)
	}
	c, err := in.compiler()
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	var cr compiledRead
	if query {
		if in.KeyConditionExpression == nil {
			return nil, validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
		}
		if cr.kc, err = c.KeyCondition(*in.KeyConditionExpression, t.Schema()); err != nil {
			return nil, h.toError(err, in.TableName)
		}
	}
	if in.FilterExpression != nil {
		if cr.filter, err = c.Filter(*in.FilterExpression); err != nil {
			return nil, h.toError(err, in.TableName)
		}
		if query {
			for _, a := range cr.filter.Attributes() {
				if t.Schema().IsKey(a) {
					return nil, validation("Filter Expression can only contain non-primary key attributes: Primary key attribute: %s", a)
				}
			}
		}
	}
	if in.ProjectionExpression != nil {
		if cr.proj, err = c.Projection(*in.ProjectionExpression); err != nil {
			return nil, h.toError(err, in.TableName)
		}
	}
	if err := c.Done(); err != nil {
		return nil, h.toError(err, in.TableName)
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES":
	case "COUNT":
		cr.count = true
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]", in.Select)
	}
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		cr.limit = *in.Limit
	}
	if len(in.ExclusiveStartKey) > 0 && string(in.ExclusiveStartKey) != "null" {
		ki, err := item.ParseItem(in.ExclusiveStartKey, "ExclusiveStartKey")
		if err != nil {
			return nil, h.toError(err, in.TableName)
		}
		k, err := t.ParseKey(ki)
		if err != nil {
			return nil, validation("The provided starting key is invalid: %s", err.(*item.ValidationError).Message())
		}
		cr.start = &k
	}
	return &cr, nil
}

func pageOutput(t *table.Table, p *table.Page, count bool) readOutput {
	out := readOutput{Count: len(p.Items), ScannedCount: p.ScannedCount}
	if !count {
		out.Items = make([]json.RawMessage, len(p.Items))
		for i, it := range p.Items {
			out.Items[i] = it.AppendJSON(nil)
		}
	}
	if p.LastEvaluatedKey != nil {
		out.LastEvaluatedKey = p.LastEvaluatedKey.Item(t.Schema()).AppendJSON(nil)
	}
	return out
}

// readOutput with an empty Items list must still send "Items": [].
type readOutputJSON struct {
	Items            []json.RawMessage `json:"Items"`
	Count            int               `json:"Count"`
	ScannedCount     int               `json:"ScannedCount"`
	LastEvaluatedKey json.RawMessage   `json:"LastEvaluatedKey,omitempty"`
}

func finishRead(o readOutput, count bool) any {
	if count {
		return o
	}
	if o.Items == nil {
		o.Items = []json.RawMessage{}
	}
	return readOutputJSON(o)
}

func (h *Handler) query(ctx context.Context, req *request) (any, *Error) {
	var in readInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	t, derr := h.openTable(ctx, in.TableName, "read")
	if derr != nil {
		return nil, derr
	}
	cr, derr := h.compileRead(t, &in, true)
	if derr != nil {
		return nil, derr
	}
	p, err := t.Query(ctx, table.QueryInput{KeyCondition: cr.kc, Filter: cr.filter, Projection: cr.proj, Limit: cr.limit, ExclusiveStartKey: cr.start,
		Backward: in.ScanIndexForward != nil && !*in.ScanIndexForward, Consistent: in.ConsistentRead})
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	return finishRead(pageOutput(t, p, cr.count), cr.count), nil
}

func (h *Handler) scan(ctx context.Context, req *request) (any, *Error) {
	var in readInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	t, derr := h.openTable(ctx, in.TableName, "read")
	if derr != nil {
		return nil, derr
	}
	cr, derr := h.compileRead(t, &in, false)
	if derr != nil {
		return nil, derr
	}
	si := table.ScanInput{Filter: cr.filter, Projection: cr.proj, Limit: cr.limit, ExclusiveStartKey: cr.start, Consistent: in.ConsistentRead}
	if (in.Segment == nil) != (in.TotalSegments == nil) {
		return nil, validation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
	}
	if in.Segment != nil {
		si.Segment, si.TotalSegments = *in.Segment, *in.TotalSegments
	}
	p, err := t.Scan(ctx, si)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	return finishRead(pageOutput(t, p, cr.count), cr.count), nil
}

type keysAndAttributes struct {
	Keys                 []json.RawMessage `json:"Keys"`
	ConsistentRead       bool              `json:"ConsistentRead"`
	ProjectionExpression *string           `json:"ProjectionExpression"`
	exprParams
}

func (h *Handler) batchGetItem(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		RequestItems map[string]keysAndAttributes `json:"RequestItems"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	total := 0
	for _, ka := range in.RequestItems {
		total += len(ka.Keys)
	}
	if len(in.RequestItems) == 0 {
		return nil, validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if total > table.MaxBatchGet {
		return nil, validation("Too many items requested for the BatchGetItem call")
	}
	type job struct {
		t    *table.Table
		keys []item.Key
		opts table.GetOptions
	}
	jobs := map[string]job{}
	for name, ka := range in.RequestItems {
		t, derr := h.openTable(ctx, name, "read")
		if derr != nil {
			return nil, derr
		}
		c, err := ka.compiler()
		if err != nil {
			return nil, h.toError(err, name)
		}
		j := job{t: t, opts: table.GetOptions{Consistent: ka.ConsistentRead}}
		if ka.ProjectionExpression != nil {
			if j.opts.Projection, err = c.Projection(*ka.ProjectionExpression); err != nil {
				return nil, h.toError(err, name)
			}
		}
		if err := c.Done(); err != nil {
			return nil, h.toError(err, name)
		}
		for _, raw := range ka.Keys {
			k, err := parseKey(t, raw)
			if err != nil {
				return nil, h.toError(err, name)
			}
			j.keys = append(j.keys, k)
		}
		jobs[name] = j
	}
	out := struct {
		Responses       map[string][]json.RawMessage `json:"Responses"`
		UnprocessedKeys map[string]any               `json:"UnprocessedKeys"`
	}{Responses: map[string][]json.RawMessage{}, UnprocessedKeys: map[string]any{}}
	for name, j := range jobs {
		items, err := j.t.BatchGet(ctx, j.keys, j.opts)
		if err != nil {
			return nil, h.toError(err, name)
		}
		list := make([]json.RawMessage, len(items))
		for i, it := range items {
			list[i] = it.AppendJSON(nil)
		}
		out.Responses[name] = list
	}
	return out, nil
}

type writeRequest struct {
	PutRequest *struct {
		Item json.RawMessage `json:"Item"`
	} `json:"PutRequest"`
	DeleteRequest *struct {
		Key json.RawMessage `json:"Key"`
	} `json:"DeleteRequest"`
}

func (h *Handler) batchWriteItem(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		RequestItems map[string][]writeRequest `json:"RequestItems"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	total := 0
	for _, rs := range in.RequestItems {
		total += len(rs)
	}
	if total == 0 {
		return nil, validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if total > table.MaxBatchWrite {
		return nil, validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]")
	}
	if err := h.admitWrite(ctx, total); err != nil {
		return nil, err
	}
	type job struct {
		t    *table.Table
		reqs []table.WriteRequest
	}
	var jobs []job
	for name, rs := range in.RequestItems {
		t, derr := h.openTable(ctx, name, "write")
		if derr != nil {
			return nil, derr
		}
		j := job{t: t}
		for _, r := range rs {
			switch {
			case r.PutRequest != nil && r.DeleteRequest == nil:
				it, err := parseItem(r.PutRequest.Item, "Item")
				if err != nil {
					return nil, h.toError(err, name)
				}
				j.reqs = append(j.reqs, table.WriteRequest{Put: it})
			case r.DeleteRequest != nil && r.PutRequest == nil:
				k, err := parseKey(t, r.DeleteRequest.Key)
				if err != nil {
					return nil, h.toError(err, name)
				}
				j.reqs = append(j.reqs, table.WriteRequest{Delete: k})
			default:
				return nil, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		if _, err := j.t.BatchWrite(ctx, j.reqs); err != nil {
			return nil, h.toError(err, j.t.Name())
		}
	}
	return map[string]any{"UnprocessedItems": map[string]any{}}, nil
}

type transactItem struct {
	ConditionCheck *transactAction `json:"ConditionCheck"`
	Put            *transactAction `json:"Put"`
	Delete         *transactAction `json:"Delete"`
	Update         *transactAction `json:"Update"`
}

type transactAction struct {
	TableName                           string          `json:"TableName"`
	Key                                 json.RawMessage `json:"Key"`
	Item                                json.RawMessage `json:"Item"`
	UpdateExpression                    *string         `json:"UpdateExpression"`
	ConditionExpression                 *string         `json:"ConditionExpression"`
	ReturnValuesOnConditionCheckFailure string          `json:"ReturnValuesOnConditionCheckFailure"`
	exprParams
}

func (h *Handler) transactWriteItems(ctx context.Context, req *request) (any, *Error) {
	var in struct {
		TransactItems      []transactItem `json:"TransactItems"`
		ClientRequestToken string         `json:"ClientRequestToken"`
	}
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if len(in.TransactItems) == 0 || len(in.TransactItems) > table.MaxTransactItems {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", table.MaxTransactItems)
	}
	if err := h.admitWrite(ctx, len(in.TransactItems)); err != nil {
		return nil, err
	}
	actions := make([]table.TransactAction, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		var a *transactAction
		n := 0
		for kind, x := range map[table.TransactKind]*transactAction{table.TransactConditionCheck: ti.ConditionCheck, table.TransactPut: ti.Put, table.TransactDelete: ti.Delete, table.TransactUpdate: ti.Update} {
			if x != nil {
				a = x
				actions[i].Kind = kind
				n++
			}
		}
		if n != 1 {
			return nil, validation("TransactItems[%d] must hold exactly one of ConditionCheck, Put, Delete or Update", i)
		}
		t, derr := h.openTable(ctx, a.TableName, "write")
		if derr != nil {
			return nil, derr
		}
		act := &actions[i]
		act.Table = t
		act.ReturnOldOnConditionFailure = a.ReturnValuesOnConditionCheckFailure == "ALL_OLD"
		c, err := a.compiler()
		if err != nil {
			return nil, h.toError(err, a.TableName)
		}
		if act.Kind == table.TransactPut {
			if act.Item, err = parseItem(a.Item, "Item"); err != nil {
				return nil, h.toError(err, a.TableName)
			}
		} else if act.Key, err = parseKey(t, a.Key); err != nil {
			return nil, h.toError(err, a.TableName)
		}
		if act.Kind == table.TransactUpdate {
			if a.UpdateExpression == nil {
				return nil, validation("an Update action needs an UpdateExpression")
			}
			if act.Update, err = c.Update(*a.UpdateExpression); err != nil {
				return nil, h.toError(err, a.TableName)
			}
		}
		if a.ConditionExpression != nil {
			if act.Condition, err = c.Condition(*a.ConditionExpression); err != nil {
				return nil, h.toError(err, a.TableName)
			}
		} else if act.Kind == table.TransactConditionCheck {
			return nil, validation("a ConditionCheck action needs a ConditionExpression")
		}
		if err := c.Done(); err != nil {
			return nil, h.toError(err, a.TableName)
		}
	}
	if err := h.tables.TransactWrite(ctx, actions); err != nil {
		return nil, h.toError(err, "")
	}
	return struct{}{}, nil
}
