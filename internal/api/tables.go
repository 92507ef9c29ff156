package api

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

func (s *Server) routeTables() {
	s.mux.HandleFunc("POST /v1/tables", s.createTable)
	s.mux.HandleFunc("GET /v1/tables", s.listTables)
	s.mux.HandleFunc("GET /v1/tables/{table}", s.describeTable)
	s.mux.HandleFunc("DELETE /v1/tables/{table}", s.deleteTable)
	s.mux.HandleFunc("PUT /v1/tables/{table}/ttl", s.updateTableTTL)
	s.mux.HandleFunc("POST /v1/tables/{table}/items", s.putItem)
	s.mux.HandleFunc("GET /v1/tables/{table}/items/{pk}", s.getItem)
	s.mux.HandleFunc("GET /v1/tables/{table}/items/{pk}/{sk}", s.getItem)
	s.mux.HandleFunc("PATCH /v1/tables/{table}/items/{pk}", s.updateItem)
	s.mux.HandleFunc("PATCH /v1/tables/{table}/items/{pk}/{sk}", s.updateItem)
	s.mux.HandleFunc("DELETE /v1/tables/{table}/items/{pk}", s.deleteItem)
	s.mux.HandleFunc("DELETE /v1/tables/{table}/items/{pk}/{sk}", s.deleteItem)
	s.mux.HandleFunc("POST /v1/tables/{table}/query", s.queryTable)
	s.mux.HandleFunc("POST /v1/tables/{table}/scan", s.scanTable)
	s.mux.HandleFunc("POST /v1/tables/{table}/batch", s.batchWrite)
	s.mux.HandleFunc("GET /v1/tables/{table}/changes", s.readChanges)
	s.mux.HandleFunc("GET /v1/tables/{table}/changes/tail", s.tailChanges)
}

// KeyAttr is a key attribute in the native API: its name and type (S, N
// or B).
type KeyAttr struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TableSpec is the body of POST /v1/tables.
type TableSpec struct {
	Name         string   `json:"name"`
	PartitionKey KeyAttr  `json:"partition_key"`
	SortKey      *KeyAttr `json:"sort_key,omitempty"`
	// StreamView is KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES
	// (the default) or NONE.
	StreamView      string `json:"stream_view,omitempty"`
	ChangeRetention string `json:"change_retention,omitempty"` // a Go duration, default 24h
	// ChangeHistory is all (the default: every change for the change
	// retention) or latest (each item's newest version only).
	ChangeHistory string `json:"change_history,omitempty"`
	// TTLAttribute names the attribute whose time (seconds since the Unix
	// epoch) expires an item, as DynamoDB's Time to Live; empty: none.
	TTLAttribute string `json:"ttl_attribute,omitempty"`
	// Writes is item (the default: one engine message per write) or
	// batched (the writes made at once share engine messages; only
	// unconditional puts and deletes).
	Writes string `json:"writes,omitempty"`
}

// TableTTL is the body of PUT /v1/tables/{table}/ttl: the TTL attribute,
// or empty to turn expiry off.
type TableTTL struct {
	Attribute string `json:"attribute"`
}

// TableInfo is the native API's description of a table.
type TableInfo struct {
	Name            string    `json:"name"`
	PartitionKey    KeyAttr   `json:"partition_key"`
	SortKey         *KeyAttr  `json:"sort_key,omitempty"`
	StreamView      string    `json:"stream_view"`
	ChangeRetention string    `json:"change_retention"`
	ChangeHistory   string    `json:"change_history"`
	TTLAttribute    string    `json:"ttl_attribute,omitempty"`
	Writes          string    `json:"writes"`
	Created         time.Time `json:"created"`
	ID              string    `json:"id"`
	Items           int64     `json:"items"`
	Bytes           int64     `json:"bytes"`
	Messages        uint64    `json:"messages"`
	StreamBytes     uint64    `json:"stream_bytes"`
}

func tableInfo(i *table.Info) TableInfo {
	out := TableInfo{Name: i.Name, PartitionKey: KeyAttr{i.Key.Partition.Name, i.Key.Partition.Type.String()}, StreamView: string(i.StreamView),
		ChangeRetention: i.ChangeRetention.String(), ChangeHistory: string(i.ChangeHistory), TTLAttribute: i.TTLAttribute, Writes: string(i.Writes), Created: i.Created, ID: i.ID, Items: i.Items, Bytes: i.Bytes, Messages: i.Messages, StreamBytes: i.StreamBytes}
	if out.StreamView == "" {
		out.StreamView = "NONE"
	}
	if i.Key.HasSort() {
		out.SortKey = &KeyAttr{i.Key.Sort.Name, i.Key.Sort.Type.String()}
	}
	return out
}

// tableErr makes the table core's validation errors invalid arguments and
// its JSON syntax errors malformed requests, so that the code table maps
// them.
func tableErr(err error) error {
	var ive *item.ValidationError
	var eve *expr.ValidationError
	var se *item.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: %s", ErrMalformed, se.Error())
	case errors.As(err, &ive):
		return fmt.Errorf("%w: %s", table.ErrInvalidArgument, ive.Message())
	case errors.As(err, &eve):
		return fmt.Errorf("%w: %s", table.ErrInvalidArgument, eve.Message())
	}
	return err
}

func (s *Server) tableError(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, s.logger, tableErr(err))
}

func parseKeyAttr(role string, a KeyAttr) (item.KeyAttribute, error) {
	t, ok := item.ParseType(a.Type)
	if !ok || !t.IsScalarKey() {
		return item.KeyAttribute{}, fmt.Errorf("%w: %s type %q: want S, N or B", table.ErrInvalidArgument, role, a.Type)
	}
	return item.KeyAttribute{Name: a.Name, Type: t}, nil
}

func (s *Server) createTable(w http.ResponseWriter, r *http.Request) {
	var spec TableSpec
	if err := decodeStrict(r, &spec); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	ts := table.Spec{Name: spec.Name}
	var err error
	if ts.Key.Partition, err = parseKeyAttr("partition_key", spec.PartitionKey); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if spec.SortKey != nil {
		if ts.Key.Sort, err = parseKeyAttr("sort_key", *spec.SortKey); err != nil {
			WriteError(w, r, s.logger, err)
			return
		}
	}
	view := spec.StreamView
	if view == "" {
		view = string(table.ViewNewAndOldImgs)
	}
	if ts.StreamView, err = table.ParseViewType(view); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if spec.ChangeRetention != "" {
		if ts.ChangeRetention, err = time.ParseDuration(spec.ChangeRetention); err != nil {
			WriteError(w, r, s.logger, fmt.Errorf("%w: change_retention %q: %v", table.ErrInvalidArgument, spec.ChangeRetention, err))
			return
		}
	}
	if ts.ChangeHistory, err = table.ParseHistory(spec.ChangeHistory); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if ts.Writes, err = table.ParseWriteMode(spec.Writes); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	ts.TTLAttribute = spec.TTLAttribute
	info, err := s.tables.Create(r.Context(), ts)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tableInfo(info))
}

// updateTableTTL sets or clears a table's TTL attribute.
func (s *Server) updateTableTTL(w http.ResponseWriter, r *http.Request) {
	var body TableTTL
	if err := decodeStrict(r, &body); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	info, err := s.tables.UpdateTTL(r.Context(), r.PathValue("table"), body.Attribute)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tableInfo(info))
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) {
	infos, err := s.tables.List(r.Context())
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	out := struct {
		Tables []TableInfo `json:"tables"`
	}{Tables: []TableInfo{}}
	for _, i := range infos {
		out.Tables = append(out.Tables, tableInfo(i))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) describeTable(w http.ResponseWriter, r *http.Request) {
	info, err := s.tables.Describe(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tableInfo(info))
}

func (s *Server) deleteTable(w http.ResponseWriter, r *http.Request) {
	if err := s.tables.Delete(r.Context(), r.PathValue("table")); err != nil {
		s.tableError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ItemRequest is the body of the item writes (put, update, delete): plain
// JSON items and values, numbers kept exact.
type ItemRequest struct {
	// Item is the item to put.
	Item stdjson.RawMessage `json:"item,omitempty"`
	// Update is an UpdateExpression (for PATCH).
	Update string `json:"update,omitempty"`
	// Condition is a ConditionExpression.
	Condition string `json:"condition,omitempty"`
	// Names are ExpressionAttributeNames ({"#n": "name"}).
	Names map[string]string `json:"names,omitempty"`
	// Values are ExpressionAttributeValues as plain JSON ({":v": 1}).
	Values stdjson.RawMessage `json:"values,omitempty"`
	// ReturnValues is NONE, ALL_OLD, UPDATED_OLD, ALL_NEW or UPDATED_NEW.
	ReturnValues string `json:"return_values,omitempty"`
}

// ItemResponse is the answer to an item read or write.
type ItemResponse struct {
	// Item is the item read, or the attributes ReturnValues asked for;
	// absent when there is none.
	Item stdjson.RawMessage `json:"item,omitempty"`
	// Written is false when a write changed nothing.
	Written *bool `json:"written,omitempty"`
}

func plainValues(raw stdjson.RawMessage) (map[string]item.Value, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	it, err := item.ParseJSON(raw, "values")
	if err != nil {
		return nil, err
	}
	return map[string]item.Value(it), nil
}

// decodeItemRequest reads an item write and compiles its expressions.
func (s *Server) decodeItemRequest(r *http.Request, allowEmpty bool) (*ItemRequest, *expr.Compiler, error) {
	var req ItemRequest
	if r.ContentLength == 0 && allowEmpty {
		c, _ := expr.NewCompiler(nil, nil)
		return &req, c, nil
	}
	body, release, err := ReadBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	if len(bytes.TrimSpace(body)) == 0 && allowEmpty {
		c, _ := expr.NewCompiler(nil, nil)
		return &req, c, nil
	}
	if err := DecodeItemRequest(body, &req); err != nil {
		return nil, nil, err
	}
	vals, err := plainValues(req.Values)
	if err != nil {
		return nil, nil, err
	}
	c, err := expr.NewCompiler(req.Names, vals)
	if err != nil {
		return nil, nil, err
	}
	req.Item = append(stdjson.RawMessage(nil), req.Item...)
	return &req, c, nil
}

// DecodeItemRequest decodes the JSON of an item write, refusing unknown
// fields. (It is exported for the fuzz test.)
func DecodeItemRequest(body []byte, req *ItemRequest) error {
	dec := stdjson.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrMalformed)
	}
	return nil
}

func writeOptions(c *expr.Compiler, req *ItemRequest) (table.WriteOptions, table.ReturnValues, error) {
	var o table.WriteOptions
	if req.Condition != "" {
		cond, err := c.Condition(req.Condition)
		if err != nil {
			return o, 0, err
		}
		o.Condition = cond
	}
	rv, err := table.ParseReturnValues(req.ReturnValues)
	return o, rv, err
}

func writeItemResponse(w http.ResponseWriter, status int, it item.Item, written *bool) {
	var resp ItemResponse
	if it != nil {
		resp.Item = it.AppendPlainJSON(nil)
	}
	resp.Written = written
	writeJSON(w, status, resp)
}

func (s *Server) putItem(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if err := s.AdmitTableWrite(r.Context(), 1); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	req, c, err := s.decodeItemRequest(r, false)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if len(req.Item) == 0 {
		WriteError(w, r, s.logger, fmt.Errorf("%w: no item", table.ErrInvalidArgument))
		return
	}
	it, err := item.ParseJSON(req.Item, "item")
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	opts, rv, err := writeOptions(c, req)
	if err == nil {
		err = c.Done()
	}
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if rv != table.ReturnNone && rv != table.ReturnAllOld {
		WriteError(w, r, s.logger, fmt.Errorf("%w: return_values of a put: NONE or ALL_OLD", table.ErrInvalidArgument))
		return
	}
	res, err := tb.Put(r.Context(), it, opts)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeItemResponse(w, http.StatusOK, res.Returned(rv, nil), &res.Written)
}

// pathKey builds the key of the item a path names: {pk} and {sk} are the
// key values as text (a number's digits, a binary's base64).
func pathKey(r *http.Request, tb *table.Table) (item.Key, error) {
	ks := tb.Schema()
	kv := item.Item{}
	conv := func(a item.KeyAttribute, s string) (item.Value, error) {
		switch a.Type {
		case item.N:
			n, err := item.ParseNumber(s)
			if err != nil {
				return item.Value{}, err
			}
			return item.NumberValue(n), nil
		case item.B:
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return item.Value{}, fmt.Errorf("%w: key %s: not base64: %v", table.ErrInvalidArgument, a.Name, err)
			}
			return item.BinaryValue(b), nil
		}
		return item.StringValue(s), nil
	}
	v, err := conv(ks.Partition, r.PathValue("pk"))
	if err != nil {
		return item.Key{}, err
	}
	kv[ks.Partition.Name] = v
	sk := r.PathValue("sk")
	if ks.HasSort() != (sk != "") {
		if ks.HasSort() {
			return item.Key{}, fmt.Errorf("%w: table %q has a sort key %q: address items as /items/{pk}/{sk}", table.ErrInvalidArgument, tb.Name(), ks.Sort.Name)
		}
		return item.Key{}, fmt.Errorf("%w: table %q has no sort key: address items as /items/{pk}", table.ErrInvalidArgument, tb.Name())
	}
	if sk != "" {
		if kv[ks.Sort.Name], err = conv(ks.Sort, sk); err != nil {
			return item.Key{}, err
		}
	}
	return tb.ParseKey(kv)
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	k, err := pathKey(r, tb)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	var opts table.GetOptions
	q := r.URL.Query()
	if v := q.Get("consistent"); v != "" {
		if opts.Consistent, err = strconv.ParseBool(v); err != nil {
			WriteError(w, r, s.logger, fmt.Errorf("%w: consistent %q", ErrMalformed, v))
			return
		}
	}
	if p := q.Get("projection"); p != "" {
		if opts.Projection, err = expr.CompileProjection(p, nil); err != nil {
			s.tableError(w, r, err)
			return
		}
	}
	it, err := tb.Get(r.Context(), k, opts)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if it == nil {
		WriteError(w, r, s.logger, fmt.Errorf("%w: no item with key %s in table %q", table.ErrNotFound, k, tb.Name()))
		return
	}
	writeItemResponse(w, http.StatusOK, it, nil)
}

func (s *Server) updateItem(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if err := s.AdmitTableWrite(r.Context(), 1); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	k, err := pathKey(r, tb)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	req, c, err := s.decodeItemRequest(r, false)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if req.Update == "" {
		WriteError(w, r, s.logger, fmt.Errorf("%w: no update expression", table.ErrInvalidArgument))
		return
	}
	u, err := c.Update(req.Update)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	opts, rv, err := writeOptions(c, req)
	if err == nil {
		err = c.Done()
	}
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	res, err := tb.Update(r.Context(), k, u, opts)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeItemResponse(w, http.StatusOK, res.Returned(rv, u), &res.Written)
}

func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	if err := s.AdmitTableWrite(r.Context(), 1); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	k, err := pathKey(r, tb)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	req, c, err := s.decodeItemRequest(r, true)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	opts, rv, err := writeOptions(c, req)
	if err == nil {
		err = c.Done()
	}
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	res, err := tb.Delete(r.Context(), k, opts)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeItemResponse(w, http.StatusOK, res.Returned(rv, nil), &res.Written)
}

// ReadRequest is the body of a query or scan.
type ReadRequest struct {
	// KeyCondition is the KeyConditionExpression of a query.
	KeyCondition string             `json:"key_condition,omitempty"`
	Filter       string             `json:"filter,omitempty"`
	Projection   string             `json:"projection,omitempty"`
	Names        map[string]string  `json:"names,omitempty"`
	Values       stdjson.RawMessage `json:"values,omitempty"`
	Limit        int                `json:"limit,omitempty"`
	// StartKey is a previous page's last_key.
	StartKey stdjson.RawMessage `json:"start_key,omitempty"`
	// Forward is the sort order of a query (default true).
	Forward       *bool `json:"forward,omitempty"`
	Consistent    bool  `json:"consistent,omitempty"`
	Segment       int   `json:"segment,omitempty"`
	TotalSegments int   `json:"total_segments,omitempty"`
}

// PageResponse is one page of a query or scan.
type PageResponse struct {
	Items        []stdjson.RawMessage `json:"items"`
	Count        int                  `json:"count"`
	ScannedCount int                  `json:"scanned_count"`
	LastKey      stdjson.RawMessage   `json:"last_key,omitempty"`
}

type compiledRead struct {
	kc     *expr.KeyCondition
	filter *expr.Condition
	proj   *expr.Projection
	start  *item.Key
}

func (s *Server) decodeRead(r *http.Request, tb *table.Table, query bool) (*ReadRequest, *compiledRead, error) {
	var req ReadRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, nil, err
	}
	vals, err := plainValues(req.Values)
	if err != nil {
		return nil, nil, err
	}
	c, err := expr.NewCompiler(req.Names, vals)
	if err != nil {
		return nil, nil, err
	}
	var cr compiledRead
	if query {
		if req.KeyCondition == "" {
			return nil, nil, fmt.Errorf("%w: a query needs a key_condition", table.ErrInvalidArgument)
		}
		if cr.kc, err = c.KeyCondition(req.KeyCondition, tb.Schema()); err != nil {
			return nil, nil, err
		}
	} else if req.KeyCondition != "" {
		return nil, nil, fmt.Errorf("%w: a scan takes no key_condition", table.ErrInvalidArgument)
	}
	if req.Filter != "" {
		if cr.filter, err = c.Filter(req.Filter); err != nil {
			return nil, nil, err
		}
	}
	if req.Projection != "" {
		if cr.proj, err = c.Projection(req.Projection); err != nil {
			return nil, nil, err
		}
	}
	if err := c.Done(); err != nil {
		return nil, nil, err
	}
	if len(req.StartKey) > 0 {
		ki, err := item.ParseJSON(req.StartKey, "start_key")
		if err != nil {
			return nil, nil, err
		}
		k, err := tb.ParseKey(ki)
		if err != nil {
			return nil, nil, err
		}
		cr.start = &k
	}
	if req.Limit < 0 {
		return nil, nil, fmt.Errorf("%w: limit: must be > 0", table.ErrInvalidArgument)
	}
	return &req, &cr, nil
}

func writePage(w http.ResponseWriter, tb *table.Table, p *table.Page) {
	out := PageResponse{Items: make([]stdjson.RawMessage, len(p.Items)), Count: len(p.Items), ScannedCount: p.ScannedCount}
	for i, it := range p.Items {
		out.Items[i] = it.AppendPlainJSON(nil)
	}
	if p.LastEvaluatedKey != nil {
		out.LastKey = p.LastEvaluatedKey.Item(tb.Schema()).AppendPlainJSON(nil)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) queryTable(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	req, cr, err := s.decodeRead(r, tb, true)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	p, err := tb.Query(r.Context(), table.QueryInput{KeyCondition: cr.kc, Filter: cr.filter, Projection: cr.proj, Limit: req.Limit,
		ExclusiveStartKey: cr.start, Backward: req.Forward != nil && !*req.Forward, Consistent: req.Consistent})
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writePage(w, tb, p)
}

func (s *Server) scanTable(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	req, cr, err := s.decodeRead(r, tb, false)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	p, err := tb.Scan(r.Context(), table.ScanInput{Filter: cr.filter, Projection: cr.proj, Limit: req.Limit, ExclusiveStartKey: cr.start,
		Segment: req.Segment, TotalSegments: req.TotalSegments, Consistent: req.Consistent})
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writePage(w, tb, p)
}

// BatchRequest is the body of POST /v1/tables/{table}/batch: up to 25
// puts and deletes, applied without conditions and not atomically.
type BatchRequest struct {
	Puts    []stdjson.RawMessage `json:"puts,omitempty"`
	Deletes []stdjson.RawMessage `json:"deletes,omitempty"` // keys, as plain JSON objects
}

// BatchResponse says how many requests of a batch were applied.
type BatchResponse struct {
	Applied int `json:"applied"`
}

func (s *Server) batchWrite(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	body, release, err := ReadBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	defer release()
	var req BatchRequest
	dec := stdjson.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		WriteError(w, r, s.logger, fmt.Errorf("%w: %v", ErrMalformed, err))
		return
	}
	// A batch of a size the table refuses spends nothing of the rate.
	if n := len(req.Puts) + len(req.Deletes); n >= 1 && n <= table.MaxBatchWrite {
		if err := s.AdmitTableWrite(r.Context(), n); err != nil {
			WriteError(w, r, s.logger, err)
			return
		}
	}
	reqs := make([]table.WriteRequest, 0, len(req.Puts)+len(req.Deletes))
	for i, p := range req.Puts {
		it, err := item.ParseJSON(p, "puts["+strconv.Itoa(i)+"]")
		if err != nil {
			s.tableError(w, r, err)
			return
		}
		reqs = append(reqs, table.WriteRequest{Put: it})
	}
	for i, d := range req.Deletes {
		ki, err := item.ParseJSON(d, "deletes["+strconv.Itoa(i)+"]")
		if err != nil {
			s.tableError(w, r, err)
			return
		}
		k, err := tb.ParseKey(ki)
		if err != nil {
			s.tableError(w, r, err)
			return
		}
		reqs = append(reqs, table.WriteRequest{Delete: k})
	}
	n, err := tb.BatchWrite(r.Context(), reqs)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BatchResponse{Applied: n})
}

// ChangeJSON is a change as the native API returns it.
type ChangeJSON struct {
	Seq   string             `json:"seq"`
	Event string             `json:"event"`
	Keys  stdjson.RawMessage `json:"keys"`
	New   stdjson.RawMessage `json:"new,omitempty"`
	Old   stdjson.RawMessage `json:"old,omitempty"`
	Time  time.Time          `json:"time"`
	// Expired is set on a REMOVE made by the table's Time to Live.
	Expired bool `json:"expired,omitempty"`
}

func changeJSON(c *table.Change) ChangeJSON {
	out := ChangeJSON{Seq: strconv.FormatUint(c.Seq, 10), Event: string(c.Event), Keys: c.Keys.AppendPlainJSON(nil), Time: c.Time.UTC(), Expired: c.Expired}
	if c.New != nil {
		out.New = c.New.AppendPlainJSON(nil)
	}
	if c.Old != nil {
		out.Old = c.Old.AppendPlainJSON(nil)
	}
	return out
}

// ChangesResponse is one read of a change stream.
type ChangesResponse struct {
	Changes []ChangeJSON `json:"changes"`
	// Next is where the next read continues (at:SEQ).
	Next string `json:"next"`
}

func (s *Server) readChanges(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	q := r.URL.Query()
	p, err := table.ParsePosition(cmpOr(q.Get("start"), "trim_horizon"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	limit := 1000
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 10000 {
			WriteError(w, r, s.logger, fmt.Errorf("%w: limit %q: want 1-10000", table.ErrInvalidArgument, l))
			return
		}
	}
	from, err := tb.Resolve(r.Context(), p)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	attrs, err := imageAttributes(q)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	cs, next, err := tb.ReadChanges(r.Context(), from, limit)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	out := ChangesResponse{Changes: make([]ChangeJSON, len(cs)), Next: "at:" + strconv.FormatUint(next, 10)}
	for i, c := range cs {
		if attrs != nil {
			p := *c // the change is the table's: project a copy
			p.New, p.Old = projectItem(c.New, attrs), projectItem(c.Old, attrs)
			c = &p
		}
		out.Changes[i] = changeJSON(c)
	}
	writeJSON(w, http.StatusOK, out)
}

// imageAttributes reads a change read's `attributes` parameter: the
// top-level attributes its images keep, comma-separated (nil when absent:
// whole images).
func imageAttributes(q url.Values) ([]string, error) {
	if !q.Has("attributes") {
		return nil, nil
	}
	names := strings.Split(q.Get("attributes"), ",")
	for i, n := range names {
		if names[i] = strings.TrimSpace(n); names[i] == "" {
			return nil, fmt.Errorf("%w: attributes %q: an empty name (want names separated by commas)", table.ErrInvalidArgument, q.Get("attributes"))
		}
	}
	return names, nil
}

// projectItem returns the attributes of it that names holds (nil for nil).
func projectItem(it item.Item, names []string) item.Item {
	if it == nil {
		return nil
	}
	out := make(item.Item, len(names))
	for _, n := range names {
		if v, ok := it[n]; ok {
			out[n] = v
		}
	}
	return out
}

// tailChanges streams a table's changes as JSON lines as they are stored,
// until the client goes away.
func (s *Server) tailChanges(w http.ResponseWriter, r *http.Request) {
	tb, err := s.tables.Open(r.Context(), r.PathValue("table"))
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	p, err := table.ParsePosition(cmpOr(r.URL.Query().Get("start"), "latest"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	attrs, err := imageAttributes(r.URL.Query())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	var opts []table.SubscribeOption
	if attrs != nil {
		// Only those attributes are decoded, not projected after.
		opts = append(opts, table.ImageAttrs(attrs...))
	}
	sub, err := tb.Subscribe(r.Context(), p, opts...)
	if err != nil {
		s.tableError(w, r, err)
		return
	}
	defer sub.Stop()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for {
		c, err := sub.Next(r.Context())
		if err != nil {
			return
		}
		b, _ := jsonMarshal(changeJSON(c))
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return
		}
		_ = rc.Flush()
	}
}
