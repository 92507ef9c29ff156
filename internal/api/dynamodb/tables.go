package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

type keySchemaElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type attributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type streamSpecification struct {
	StreamEnabled  bool   `json:"StreamEnabled"`
	StreamViewType string `json:"StreamViewType,omitempty"`
}

type createTableInput struct {
	TableName              string                `json:"TableName"`
	KeySchema              []keySchemaElement    `json:"KeySchema"`
	AttributeDefinitions   []attributeDefinition `json:"AttributeDefinitions"`
	StreamSpecification    *streamSpecification  `json:"StreamSpecification"`
	GlobalSecondaryIndexes json.RawMessage       `json:"GlobalSecondaryIndexes"`
	LocalSecondaryIndexes  json.RawMessage       `json:"LocalSecondaryIndexes"`
}

type provisionedThroughput struct {
	ReadCapacityUnits      int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits     int64 `json:"WriteCapacityUnits"`
	NumberOfDecreasesToday int64 `json:"NumberOfDecreasesToday"`
}

type billingModeSummary struct {
	BillingMode string `json:"BillingMode"`
}

type tableDescription struct {
	TableName             string                `json:"TableName"`
	TableStatus           string                `json:"TableStatus"`
	TableArn              string                `json:"TableArn"`
	TableId               string                `json:"TableId"`
	KeySchema             []keySchemaElement    `json:"KeySchema"`
	AttributeDefinitions  []attributeDefinition `json:"AttributeDefinitions"`
	CreationDateTime      epoch                 `json:"CreationDateTime"`
	ItemCount             int64                 `json:"ItemCount"`
	TableSizeBytes        int64                 `json:"TableSizeBytes"`
	BillingModeSummary    billingModeSummary    `json:"BillingModeSummary"`
	ProvisionedThroughput provisionedThroughput `json:"ProvisionedThroughput"`
	StreamSpecification   *streamSpecification  `json:"StreamSpecification,omitempty"`
	LatestStreamArn       string                `json:"LatestStreamArn,omitempty"`
	LatestStreamLabel     string                `json:"LatestStreamLabel,omitempty"`
	DeletionProtection    bool                  `json:"DeletionProtectionEnabled"`
}

func (h *Handler) describe(region string, i *table.Info, status string) *tableDescription {
	d := &tableDescription{
		TableName: i.Name, TableStatus: status, TableArn: h.tableARN(region, i.Name), TableId: i.ID,
		CreationDateTime: toEpoch(i.Created), ItemCount: i.Items, TableSizeBytes: i.Bytes,
		BillingModeSummary: billingModeSummary{"PAY_PER_REQUEST"},
	}
	d.KeySchema = append(d.KeySchema, keySchemaElement{i.Key.Partition.Name, "HASH"})
	d.AttributeDefinitions = append(d.AttributeDefinitions, attributeDefinition{i.Key.Partition.Name, i.Key.Partition.Type.String()})
	if i.Key.HasSort() {
		d.KeySchema = append(d.KeySchema, keySchemaElement{i.Key.Sort.Name, "RANGE"})
		d.AttributeDefinitions = append(d.AttributeDefinitions, attributeDefinition{i.Key.Sort.Name, i.Key.Sort.Type.String()})
	}
	if i.StreamView != table.ViewNone {
		d.StreamSpecification = &streamSpecification{StreamEnabled: true, StreamViewType: string(i.StreamView)}
		d.LatestStreamLabel = streamLabel(i)
		d.LatestStreamArn = h.streamARN(region, i)
	}
	return d
}

func (h *Handler) createTable(ctx context.Context, req *request) (any, *Error) {
	var in createTableInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if e := allow(ctx, auth.Admin); e != nil {
		return nil, e
	}
	if len(in.GlobalSecondaryIndexes) > 0 || len(in.LocalSecondaryIndexes) > 0 {
		return nil, validation("secondary indexes are not supported")
	}
	spec := table.Spec{Name: in.TableName}
	types := map[string]string{}
	for _, a := range in.AttributeDefinitions {
		types[a.AttributeName] = a.AttributeType
	}
	if len(in.KeySchema) < 1 || len(in.KeySchema) > 2 {
		return nil, validation("1 validation error detected: Value at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2 and greater than or equal to 1")
	}
	used := map[string]bool{}
	for _, k := range in.KeySchema {
		t, ok := item.ParseType(types[k.AttributeName])
		if !ok || !t.IsScalarKey() {
			return nil, validation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: %v", k.AttributeName, keysOf(types))
		}
		used[k.AttributeName] = true
		switch k.KeyType {
		case "HASH":
			if spec.Key.Partition.Name != "" {
				return nil, validation("Invalid KeySchema: Some index key attribute have no definition")
			}
			spec.Key.Partition = item.KeyAttribute{Name: k.AttributeName, Type: t}
		case "RANGE":
			if spec.Key.Sort.Name != "" {
				return nil, validation("Invalid KeySchema: Some index key attribute have no definition")
			}
			spec.Key.Sort = item.KeyAttribute{Name: k.AttributeName, Type: t}
		default:
			return nil, validation("1 validation error detected: Value '%s' at 'keySchema.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]", k.KeyType)
		}
	}
	if spec.Key.Partition.Name == "" {
		return nil, validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	}
	if len(types) != len(used) {
		return nil, validation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	if s := in.StreamSpecification; s != nil && s.StreamEnabled {
		v, err := table.ParseViewType(s.StreamViewType)
		if err != nil || v == table.ViewNone {
			return nil, validation("1 validation error detected: Value '%s' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]", s.StreamViewType)
		}
		spec.StreamView = v
	}
	info, err := h.tables.Create(ctx, spec)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	return map[string]any{"TableDescription": h.describe(req.region, info, "ACTIVE")}, nil
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type tableNameInput struct {
	TableName string `json:"TableName"`
}

// namedTable decodes a request that names a table (TableName), checks
// that the caller holds scope for it (scope of the name), and describes
// the table: the start of the operations that take only a table's name.
func (h *Handler) namedTable(ctx context.Context, req *request, scope func(name string) auth.Scope) (*table.Info, *Error) {
	var in tableNameInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if e := allow(ctx, scope(in.TableName)); e != nil {
		return nil, e
	}
	info, err := h.tables.Describe(ctx, in.TableName)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	return info, nil
}

// readScope is the scope that reading a table takes.
func readScope(name string) auth.Scope { return auth.TableScope(name, "read") }

func (h *Handler) describeTable(ctx context.Context, req *request) (any, *Error) {
	info, e := h.namedTable(ctx, req, readScope)
	if e != nil {
		return nil, e
	}
	return map[string]any{"Table": h.describe(req.region, info, "ACTIVE")}, nil
}

func (h *Handler) deleteTable(ctx context.Context, req *request) (any, *Error) {
	info, e := h.namedTable(ctx, req, func(string) auth.Scope { return auth.Admin })
	if e != nil {
		return nil, e
	}
	if err := h.tables.Delete(ctx, info.Name); err != nil {
		return nil, h.toError(err, info.Name)
	}
	return map[string]any{"TableDescription": h.describe(req.region, info, "DELETING")}, nil
}

type listTablesInput struct {
	ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
	Limit                   int    `json:"Limit"`
}

func (h *Handler) listTables(ctx context.Context, req *request) (any, *Error) {
	var in listTablesInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	if in.Limit == 0 {
		in.Limit = 100
	}
	if in.Limit < 1 || in.Limit > 100 {
		return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100", in.Limit)
	}
	if e := allow(ctx, auth.TableScope("*", "read")); e != nil {
		return nil, e
	}
	infos, err := h.tables.List(ctx)
	if err != nil {
		return nil, h.toError(err, "")
	}
	out := struct {
		TableNames             []string `json:"TableNames"`
		LastEvaluatedTableName string   `json:"LastEvaluatedTableName,omitempty"`
	}{TableNames: []string{}}
	for _, i := range infos {
		if in.ExclusiveStartTableName != "" && i.Name <= in.ExclusiveStartTableName {
			continue
		}
		if len(out.TableNames) == in.Limit {
			out.LastEvaluatedTableName = out.TableNames[len(out.TableNames)-1]
			break
		}
		out.TableNames = append(out.TableNames, i.Name)
	}
	return out, nil
}

// allow checks that the request's principal holds scope.
func allow(ctx context.Context, scope auth.Scope) *Error {
	if err := auth.Check(ctx, scope); err != nil {
		return errorf("AccessDeniedException", http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "auth: "))
	}
	return nil
}

// openTable opens a table named in a request, for action ("read" or
// "write") by the request's principal.
func (h *Handler) openTable(ctx context.Context, name, action string) (*table.Table, *Error) {
	if name == "" {
		return nil, validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	if e := allow(ctx, auth.TableScope(name, action)); e != nil {
		return nil, e
	}
	t, err := h.tables.Open(ctx, name)
	if err != nil {
		if errors.Is(err, table.ErrInvalidArgument) {
			return nil, validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name)
		}
		return nil, h.toError(err, name)
	}
	return t, nil
}

// ttlSpecification is DynamoDB's TimeToLiveSpecification.
type ttlSpecification struct {
	AttributeName string `json:"AttributeName"`
	Enabled       *bool  `json:"Enabled"`
}

type updateTTLInput struct {
	TableName               string            `json:"TableName"`
	TimeToLiveSpecification *ttlSpecification `json:"TimeToLiveSpecification"`
}

// decodeUpdateTTL decodes and checks an UpdateTimeToLive request.
func decodeUpdateTTL(req *request) (*updateTTLInput, *Error) {
	var in updateTTLInput
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	spec := in.TimeToLiveSpecification
	if spec == nil || spec.Enabled == nil {
		return nil, validation("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	if n := len(spec.AttributeName); n < 1 || n > 255 {
		return nil, validation("1 validation error detected: Value '%s' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length between 1 and 255", spec.AttributeName)
	}
	return &in, nil
}

// updateTimeToLive turns a table's Time to Live on (naming the attribute
// that holds each item's expiry, in seconds since the Unix epoch) or off,
// refusing what DynamoDB refuses: enabling it twice, or disabling it for
// an attribute other than the one it is on.
func (h *Handler) updateTimeToLive(ctx context.Context, req *request) (any, *Error) {
	in, e := decodeUpdateTTL(req)
	if e != nil {
		return nil, e
	}
	spec := in.TimeToLiveSpecification
	if e := allow(ctx, auth.Admin); e != nil {
		return nil, e
	}
	info, err := h.tables.Describe(ctx, in.TableName)
	if err != nil {
		return nil, h.toError(err, in.TableName)
	}
	attr := ""
	switch cur := info.TTLAttribute; {
	case *spec.Enabled && cur == spec.AttributeName:
		return nil, validation("TimeToLive is already enabled")
	case *spec.Enabled && cur != "":
		return nil, validation("TimeToLive is active on a different AttributeName: current AttributeName is %s", cur)
	case *spec.Enabled:
		attr = spec.AttributeName
	case cur == "":
		return nil, validation("TimeToLive is already disabled")
	case cur != spec.AttributeName:
		return nil, validation("TimeToLive is active on a different AttributeName: current AttributeName is %s", cur)
	}
	if _, err := h.tables.UpdateTTL(ctx, in.TableName, attr); err != nil {
		return nil, h.toError(err, in.TableName)
	}
	return map[string]any{"TimeToLiveSpecification": spec}, nil
}

func (h *Handler) describeTimeToLive(ctx context.Context, req *request) (any, *Error) {
	info, e := h.namedTable(ctx, req, readScope)
	if e != nil {
		return nil, e
	}
	desc := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if info.TTLAttribute != "" {
		desc = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": info.TTLAttribute}
	}
	return map[string]any{"TimeToLiveDescription": desc}, nil
}
