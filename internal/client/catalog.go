package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
)

func catalogDBPath(db string) string { return "/v1/catalog/databases/" + url.PathEscape(db) }

func catalogTablePath(db, table string) string {
	return catalogDBPath(db) + "/tables/" + url.PathEscape(table)
}

// CreateDatabase creates a catalog database.
func (c *Client) CreateDatabase(ctx context.Context, d catalog.Database) (*catalog.Database, error) {
	var out catalog.Database
	return &out, c.do(ctx, http.MethodPost, "/v1/catalog/databases", d, &out)
}

// UpdateDatabase replaces a database's description and parameters.
func (c *Client) UpdateDatabase(ctx context.Context, d catalog.Database) (*catalog.Database, error) {
	var out catalog.Database
	return &out, c.do(ctx, http.MethodPut, catalogDBPath(d.Name), d, &out)
}

// GetDatabase returns a database.
func (c *Client) GetDatabase(ctx context.Context, name string) (*catalog.Database, error) {
	var out catalog.Database
	return &out, c.do(ctx, http.MethodGet, catalogDBPath(name), nil, &out)
}

// ListDatabases lists the databases.
func (c *Client) ListDatabases(ctx context.Context) ([]*catalog.Database, error) {
	var out struct {
		Databases []*catalog.Database `json:"databases"`
	}
	return out.Databases, c.do(ctx, http.MethodGet, "/v1/catalog/databases", nil, &out)
}

// DeleteDatabase deletes a database; cascade deletes its tables too.
func (c *Client) DeleteDatabase(ctx context.Context, name string, cascade bool) error {
	p := catalogDBPath(name)
	if cascade {
		p += "?cascade=true"
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil)
}

// CreateCatalogTable creates a table (version 1).
func (c *Client) CreateCatalogTable(ctx context.Context, t *catalog.Table) (*catalog.Table, error) {
	var out catalog.Table
	return &out, c.do(ctx, http.MethodPost, catalogDBPath(t.Database)+"/tables", t, &out)
}

// PutCatalogTable creates the table or makes t its new version; with ifVersion
// > 0 the update fails with the code "conflict" unless the latest version
// is ifVersion.
func (c *Client) PutCatalogTable(ctx context.Context, t *catalog.Table, ifVersion int) (*catalog.Table, error) {
	p := catalogTablePath(t.Database, t.Name)
	if ifVersion > 0 {
		p += "?if_version=" + strconv.Itoa(ifVersion)
	}
	var out catalog.Table
	return &out, c.do(ctx, http.MethodPut, p, t, &out)
}

// GetCatalogTable returns a version of a table (the latest when version is 0).
func (c *Client) GetCatalogTable(ctx context.Context, db, table string, version int) (*catalog.Table, error) {
	p := catalogTablePath(db, table)
	if version > 0 {
		p += "?version=" + strconv.Itoa(version)
	}
	var out catalog.Table
	return &out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// ListCatalogTables lists the tables of a database (their latest versions).
func (c *Client) ListCatalogTables(ctx context.Context, db string) ([]*catalog.Table, error) {
	var out struct {
		Tables []*catalog.Table `json:"tables"`
	}
	return out.Tables, c.do(ctx, http.MethodGet, catalogDBPath(db)+"/tables", nil, &out)
}

// DeleteCatalogTable deletes a table with all its versions.
func (c *Client) DeleteCatalogTable(ctx context.Context, db, table string) error {
	return c.do(ctx, http.MethodDelete, catalogTablePath(db, table), nil, nil)
}

// CatalogTableVersions lists a table's versions with their changes.
func (c *Client) CatalogTableVersions(ctx context.Context, db, table string) ([]api.VersionSummary, error) {
	var out struct {
		Versions []api.VersionSummary `json:"versions"`
	}
	return out.Versions, c.do(ctx, http.MethodGet, catalogTablePath(db, table)+"/versions", nil, &out)
}

// DiffCatalogTable returns the changes from version from to version to (0 and 0:
// the version before the latest and the latest).
func (c *Client) DiffCatalogTable(ctx context.Context, db, table string, from, to int) (*catalog.Diff, error) {
	q := url.Values{}
	if from > 0 {
		q.Set("from", strconv.Itoa(from))
	}
	if to > 0 {
		q.Set("to", strconv.Itoa(to))
	}
	var out catalog.Diff
	return &out, c.do(ctx, http.MethodGet, catalogTablePath(db, table)+"/diff?"+q.Encode(), nil, &out)
}

// ValidateRecords checks JSON records against a table's schema.
func (c *Client) ValidateRecords(ctx context.Context, db, table string, req api.ValidateRequest) (*api.ValidateResult, error) {
	var out api.ValidateResult
	return &out, c.do(ctx, http.MethodPost, catalogTablePath(db, table)+"/validate", req, &out)
}

// ApplyCatalog applies YAML or JSON catalog documents (the text of a
// file) and returns what each did.
func (c *Client) ApplyCatalog(ctx context.Context, documents []byte) ([]catalog.ApplyResult, error) {
	var out struct {
		Results []catalog.ApplyResult `json:"results"`
	}
	return out.Results, c.do(ctx, http.MethodPost, "/v1/catalog/apply", documents, &out)
}

// Bind binds a stream to a catalog table for ingest checks.
func (c *Client) Bind(ctx context.Context, b catalog.Binding) (*catalog.Binding, error) {
	var out catalog.Binding
	return &out, c.do(ctx, http.MethodPut, "/v1/catalog/bindings/"+url.PathEscape(b.Stream), b, &out)
}

// Unbind removes a stream's binding.
func (c *Client) Unbind(ctx context.Context, stream string) error {
	return c.do(ctx, http.MethodDelete, "/v1/catalog/bindings/"+url.PathEscape(stream), nil, nil)
}

// GetBinding returns a stream's binding.
func (c *Client) GetBinding(ctx context.Context, stream string) (*catalog.Binding, error) {
	var out catalog.Binding
	return &out, c.do(ctx, http.MethodGet, "/v1/catalog/bindings/"+url.PathEscape(stream), nil, &out)
}

// ListBindings lists the stream bindings.
func (c *Client) ListBindings(ctx context.Context) ([]*catalog.Binding, error) {
	var out struct {
		Bindings []*catalog.Binding `json:"bindings"`
	}
	return out.Bindings, c.do(ctx, http.MethodGet, "/v1/catalog/bindings", nil, &out)
}

// ApplyCrawl creates or updates a table from a crawl result under a
// schema-change policy (the server applies it against the latest version).
// The per-file results stay here: the server needs the merged result
// only, and a crawl of many files would otherwise send a schema per file.
func (c *Client) ApplyCrawl(ctx context.Context, db, table string, res *crawl.Result, p crawl.Policy) (*crawl.Outcome, error) {
	merged := *res
	merged.Files = nil
	var out crawl.Outcome
	return &out, c.do(ctx, http.MethodPost, catalogTablePath(db, table)+"/crawl", api.CrawlRequest{Result: &merged, Policy: p}, &out)
}
