// Package apply reads definition documents (YAML or JSON, several per file)
// and applies them to a pricestream server through its native API:
// streams, tables, catalog databases and tables, models, endpoints,
// streaming jobs and triggers. It is what `pricestream apply -f DIR` and
// the demo run.
//
// Every document names its kind (`kind: stream`, `table`,
// `catalog_database`, `catalog_table`, `model`, `endpoint`, `job`,
// `trigger`); the rest of it is what the part's own API takes. Documents are applied in the order of their kinds (so a trigger's
// table exists before it), then of their files and places. Applying is
// idempotent: what exists is left as it is (streams, tables), or updated to
// the document (endpoints, jobs, triggers), and a model file already
// registered is not registered again.
//
// This package imports client; nothing imports it but cmd and app tests.
package apply

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/trigger"
)

// Document is one definition.
type Document struct {
	Kind string
	Name string
	// Where says where the document came from ("dir/file.yaml#2").
	Where string
	// Dir is the directory of its file (model files are relative to it).
	Dir string
	// FS, when set, holds the files documents refer to (model files), at
	// its root; otherwise they are read from Dir on disk.
	FS fs.FS
	// Body is the document without its kind, as JSON.
	Body []byte
}

// kinds in the order they are applied. Catalog tables come before jobs,
// whose sources may name them.
var kinds = []string{"stream", "table", catalog.KindDatabase, catalog.KindTable, "model", "endpoint", "job", "trigger"}

// Read reads the documents of files and directories (their *.yaml, *.yml
// and *.json files, not recursively), in file order.
func Read(paths ...string) ([]Document, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	var docs []Document
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ds, err := Parse(b, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, ds...)
	}
	return docs, errors.Join(errs...)
}

// ReadFS reads the documents of a file system's *.yaml files (embedded
// examples).
func ReadFS(fsys fs.FS, dir string) ([]Document, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var docs []Document
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		ds, err := Parse(b, filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		docs = append(docs, ds...)
	}
	return docs, nil
}

// Parse splits a file into documents. Every document needs a kind and a
// name.
func Parse(b []byte, where string) ([]Document, error) {
	var out []Document
	for i, chunk := range docSeparator.Split(string(b), -1) {
		i++
		var m yaml.MapSlice
		if err := yaml.UnmarshalWithOptions([]byte(chunk), &m, yaml.UseOrderedMap()); err != nil {
			return nil, fmt.Errorf("%s#%d: %s", where, i, yaml.FormatError(err, false, true))
		}
		if len(m) == 0 {
			continue // empty, or only comments
		}
		d := Document{Where: fmt.Sprintf("%s#%d", where, i), Dir: filepath.Dir(where)}
		var rest yaml.MapSlice
		for _, kv := range m {
			switch kv.Key {
			case "kind":
				d.Kind, _ = kv.Value.(string)
			default:
				if kv.Key == "name" {
					d.Name, _ = kv.Value.(string)
				}
				rest = append(rest, kv)
			}
		}
		if !slices.Contains(kinds, d.Kind) {
			return nil, fmt.Errorf("%s: kind %q: want one of %s", d.Where, d.Kind, strings.Join(kinds, ", "))
		}
		if d.Name == "" {
			return nil, fmt.Errorf("%s: a %s needs a name", d.Where, d.Kind)
		}
		body, err := yaml.YAMLToJSON(mustYAML(rest))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Where, err)
		}
		d.Body = body
		out = append(out, d)
	}
	return out, nil
}

// docSeparator splits a YAML stream into its documents.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(?:#.*)?$`)

func mustYAML(v any) []byte {
	b, _ := yaml.Marshal(v)
	return b
}

// Apply applies the documents in kind order and writes one line per
// document to w. It goes on after a failing document and returns every
// failure.
func Apply(ctx context.Context, c *client.Client, docs []Document, w io.Writer) error {
	sorted := slices.Clone(docs)
	slices.SortStableFunc(sorted, func(a, b Document) int { return slices.Index(kinds, a.Kind) - slices.Index(kinds, b.Kind) })
	var errs []error
	for _, d := range sorted {
		what, err := applyOne(ctx, c, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s %s): %w", d.Where, d.Kind, d.Name, err))
			fmt.Fprintf(w, "%s %s: FAILED: %v\n", d.Kind, d.Name, err)
			continue
		}
		fmt.Fprintf(w, "%s %s: %s\n", d.Kind, d.Name, what)
	}
	return errors.Join(errs...)
}

func strict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func applyOne(ctx context.Context, c *client.Client, d Document) (string, error) {
	switch d.Kind {
	case "stream":
		var s api.StreamSpec
		if err := strict(d.Body, &s); err != nil {
			return "", err
		}
		if _, err := c.CreateStream(ctx, s); err != nil {
			if client.IsCode(err, "already_exists") {
				return "exists", nil
			}
			return "", err
		}
		return "created", nil
	case "table":
		var t api.TableSpec
		if err := strict(d.Body, &t); err != nil {
			return "", err
		}
		if _, err := c.CreateTable(ctx, t); err != nil {
			if client.IsCode(err, "already_exists") {
				return existingTable(ctx, c, t)
			}
			return "", err
		}
		return "created", nil
	case catalog.KindDatabase, catalog.KindTable:
		return applyCatalog(ctx, c, d)
	case "model":
		return applyModel(ctx, c, d)
	case "endpoint":
		var e api.EndpointSpec
		if err := strict(d.Body, &e); err != nil {
			return "", err
		}
		if _, err := c.CreateEndpoint(ctx, e); err != nil {
			if !client.IsCode(err, "already_exists") {
				return "", err
			}
			if _, err := c.UpdateEndpoint(ctx, e); err != nil {
				return "", err
			}
			return "updated", nil
		}
		return "created", nil
	case "job":
		res, err := c.ApplyJob(ctx, d.Body)
		if err != nil {
			return "", err
		}
		b, _ := json.Marshal(res)
		return "applied " + string(b), nil
	case "trigger":
		var s trigger.Spec
		if err := strict(d.Body, &s); err != nil {
			return "", err
		}
		if _, err := c.ApplyTrigger(ctx, &s); err != nil {
			return "", err
		}
		return "applied", nil
	}
	return "", fmt.Errorf("unknown kind %q", d.Kind)
}

// applyCatalog applies a catalog database or table (a new version when the
// definition changed, checked against its compatibility mode).
func applyCatalog(ctx context.Context, c *client.Client, d Document) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(d.Body, &m); err != nil {
		return "", err
	}
	m["kind"], _ = json.Marshal(d.Kind)
	b, _ := json.Marshal(m)
	res, err := c.ApplyCatalog(ctx, b)
	if err != nil {
		return "", err
	}
	if len(res) != 1 {
		return "", fmt.Errorf("the catalog applied %d documents for one", len(res))
	}
	if res[0].Version > 0 {
		return fmt.Sprintf("%s (version %d)", res[0].Action, res[0].Version), nil
	}
	return res[0].Action, nil
}

// modelDoc is a model document: a model file to register.
type modelDoc struct {
	Name        string            `json:"name"`
	File        string            `json:"file"`
	Format      string            `json:"format,omitempty"`
	Features    []string          `json:"features,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Approve registers the version as Approved.
	Approve bool `json:"approve,omitempty"`
}

func applyModel(ctx context.Context, c *client.Client, d Document) (string, error) {
	var m modelDoc
	if err := strict(d.Body, &m); err != nil {
		return "", err
	}
	if m.File == "" {
		return "", errors.New("a model needs a file")
	}
	var artifact []byte
	var err error
	if d.FS != nil {
		artifact, err = fs.ReadFile(d.FS, m.File)
	} else {
		path := m.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(d.Dir, path)
		}
		artifact, err = os.ReadFile(path)
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(artifact)
	sha := hex.EncodeToString(sum[:])
	if info, err := c.DescribeModel(ctx, m.Name); err == nil {
		for _, v := range info.Versions {
			if v.ArtifactSHA256 == sha {
				if m.Approve && v.Status != model.Approved {
					if _, err := c.SetModelStatus(ctx, m.Name, v.Version, model.Approved); err != nil {
						return "", err
					}
					return fmt.Sprintf("version %d approved", v.Version), nil
				}
				return fmt.Sprintf("version %d exists", v.Version), nil
			}
		}
	} else if !client.IsCode(err, "not_found") {
		return "", err
	}
	reg := api.ModelRegistration{Format: m.Format, Artifact: artifact, Features: m.Features, Description: m.Description, Tags: m.Tags}
	if m.Approve {
		reg.Status = string(model.Approved)
	}
	v, err := c.RegisterModel(ctx, m.Name, reg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("registered version %d", v.Version), nil
}

// existingTable says how an existing table differs from its document:
// tables are not updated, so a setting the file changed (a change history,
// say) takes effect only on a table created anew; the TTL attribute alone
// is set on the table as the file says.
func existingTable(ctx context.Context, c *client.Client, want api.TableSpec) (string, error) {
	got, err := c.DescribeTable(ctx, want.Name)
	if err != nil {
		return "", err
	}
	var diffs []string
	differ := func(what, here, file string) {
		if here != file {
			diffs = append(diffs, fmt.Sprintf("%s %s here, %s in the file", what, here, file))
		}
	}
	keyText := func(k *api.KeyAttr) string {
		if k == nil {
			return "none"
		}
		return k.Name + ":" + strings.ToUpper(k.Type) // the type is required
	}
	differ("partition key", keyText(&got.PartitionKey), keyText(&want.PartitionKey))
	differ("sort key", keyText(got.SortKey), keyText(want.SortKey))
	view := strings.ToUpper(want.StreamView)
	if view == "" {
		view = "NEW_AND_OLD_IMAGES"
	}
	differ("stream_view", got.StreamView, view)
	if r, err := time.ParseDuration(cmp.Or(want.ChangeRetention, "24h")); err == nil {
		if have, err := time.ParseDuration(got.ChangeRetention); err == nil && have != r {
			differ("change_retention", got.ChangeRetention, r.String())
		}
	}
	differ("change_history", got.ChangeHistory, strings.ToLower(cmp.Or(want.ChangeHistory, "all")))
	differ("writes", cmp.Or(got.Writes, "item"), strings.ToLower(cmp.Or(want.Writes, "item")))
	status := "exists"
	if got.TTLAttribute != want.TTLAttribute {
		// The one setting a table takes at run time, as DynamoDB's
		// UpdateTimeToLive does: set even when others differ.
		if _, err := c.UpdateTableTTL(ctx, want.Name, want.TTLAttribute); err != nil {
			return "", err
		}
		status += fmt.Sprintf(", ttl_attribute set to %q", want.TTLAttribute)
	}
	if len(diffs) == 0 {
		return status, nil
	}
	return status + ", but differs from the file (" + strings.Join(diffs, "; ") + "): tables are not updated; delete the table (or start from a new data directory) to create it as the file says", nil
}
