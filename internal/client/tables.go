package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/api"
)

func tablePath(name string) string { return "/v1/tables/" + url.PathEscape(name) }

// CreateTable creates a table.
func (c *Client) CreateTable(ctx context.Context, spec api.TableSpec) (*api.TableInfo, error) {
	var out api.TableInfo
	return &out, c.do(ctx, http.MethodPost, "/v1/tables", spec, &out)
}

// ListTables lists the tables.
func (c *Client) ListTables(ctx context.Context) ([]api.TableInfo, error) {
	var out struct {
		Tables []api.TableInfo `json:"tables"`
	}
	return out.Tables, c.do(ctx, http.MethodGet, "/v1/tables", nil, &out)
}

// DescribeTable describes a table.
func (c *Client) DescribeTable(ctx context.Context, name string) (*api.TableInfo, error) {
	var out api.TableInfo
	return &out, c.do(ctx, http.MethodGet, tablePath(name), nil, &out)
}

// UpdateTableTTL sets the table's TTL attribute (empty turns expiry off).
func (c *Client) UpdateTableTTL(ctx context.Context, name, attribute string) (*api.TableInfo, error) {
	var out api.TableInfo
	return &out, c.do(ctx, http.MethodPut, tablePath(name)+"/ttl", api.TableTTL{Attribute: attribute}, &out)
}

// DeleteTable deletes a table with its items and history.
func (c *Client) DeleteTable(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, tablePath(name), nil, nil)
}

// PutItem puts an item (req.Item, plain JSON) with an optional condition.
func (c *Client) PutItem(ctx context.Context, table string, req api.ItemRequest) (*api.ItemResponse, error) {
	var out api.ItemResponse
	return &out, c.do(ctx, http.MethodPost, tablePath(table)+"/items", req, &out)
}

func itemPath(table string, key ...string) string {
	p := tablePath(table) + "/items"
	for _, k := range key {
		p += "/" + url.PathEscape(k)
	}
	return p
}

// GetItem reads the item with the given key values (the partition key and,
// for a table with one, the sort key, as text). A missing item is an
// *Error with code not_found.
func (c *Client) GetItem(ctx context.Context, table string, consistent bool, key ...string) (json.RawMessage, error) {
	var out api.ItemResponse
	p := itemPath(table, key...)
	if consistent {
		p += "?consistent=true"
	}
	return out.Item, c.do(ctx, http.MethodGet, p, nil, &out)
}

// UpdateItem applies req.Update (with an optional condition) to the item
// with the given key values.
func (c *Client) UpdateItem(ctx context.Context, table string, req api.ItemRequest, key ...string) (*api.ItemResponse, error) {
	var out api.ItemResponse
	return &out, c.do(ctx, http.MethodPatch, itemPath(table, key...), req, &out)
}

// DeleteItem deletes the item with the given key values.
func (c *Client) DeleteItem(ctx context.Context, table string, req api.ItemRequest, key ...string) (*api.ItemResponse, error) {
	var out api.ItemResponse
	return &out, c.do(ctx, http.MethodDelete, itemPath(table, key...), req, &out)
}

// Query reads one page of the items of one partition key.
func (c *Client) Query(ctx context.Context, table string, req api.ReadRequest) (*api.PageResponse, error) {
	var out api.PageResponse
	return &out, c.do(ctx, http.MethodPost, tablePath(table)+"/query", req, &out)
}

// Scan reads one page of a table's items.
func (c *Client) Scan(ctx context.Context, table string, req api.ReadRequest) (*api.PageResponse, error) {
	var out api.PageResponse
	return &out, c.do(ctx, http.MethodPost, tablePath(table)+"/scan", req, &out)
}

// BatchWrite applies up to 25 puts and deletes.
func (c *Client) BatchWrite(ctx context.Context, table string, req api.BatchRequest) (*api.BatchResponse, error) {
	var out api.BatchResponse
	return &out, c.do(ctx, http.MethodPost, tablePath(table)+"/batch", req, &out)
}

// Changes reads up to limit changes from start (trim_horizon, latest,
// at:SEQ or after:SEQ).
//
// With attrs, each change's images hold only those top-level attributes
// (those of them the item has).
func (c *Client) Changes(ctx context.Context, table, start string, limit int, attrs ...string) (*api.ChangesResponse, error) {
	q := url.Values{}
	q.Set("start", start)
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if attrs != nil {
		q.Set("attributes", strings.Join(attrs, ","))
	}
	var out api.ChangesResponse
	return &out, c.do(ctx, http.MethodGet, tablePath(table)+"/changes?"+q.Encode(), nil, &out)
}

// TailChanges follows a table's change stream from start, calling fn for
// each change as it is stored, until ctx is done or fn returns an error
// (which it returns; io.EOF stops it cleanly). With attrs, each change's
// images hold only those top-level attributes, and the server decodes no
// others: a follower of a few attributes of large items asks for those.
func (c *Client) TailChanges(ctx context.Context, table, start string, fn func(*api.ChangeJSON) error, attrs ...string) error {
	q := url.Values{}
	q.Set("start", start)
	if attrs != nil {
		q.Set("attributes", strings.Join(attrs, ","))
	}
	resp, err := c.send(ctx, http.MethodGet, tablePath(table)+"/changes/tail?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ch api.ChangeJSON
		if err := gojson.Unmarshal(sc.Bytes(), &ch); err != nil {
			return fmt.Errorf("client: tail changes: %w", err)
		}
		if err := fn(&ch); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
