package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The kinds of documents the catalog applies. (Plain "table" is a
// pricestream table in `pricestream apply`.)
const (
	KindDatabase = "catalog_database"
	KindTable    = "catalog_table"
)

// IsKind reports whether a document kind belongs to the catalog, for a
// command that applies documents of several parts.
func IsKind(kind string) bool { return kind == KindDatabase || kind == KindTable }

// Document is one definition read from a YAML or JSON file: a database or
// a table.
type Document struct {
	// Kind is KindDatabase or KindTable; the one matching field is set.
	Kind     string
	Database *Database
	Table    *Table
	// Source and Line say where the document starts.
	Source string
	Line   int
}

// Name returns the name of what the document defines ("db" or "db.table").
func (d *Document) Name() string {
	if d.Table != nil {
		return d.Table.FullName()
	}
	if d.Database != nil {
		return d.Database.Name
	}
	return ""
}

// databaseJSON is the written form of a database.
type databaseJSON struct {
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	Created     string            `json:"created,omitempty"`
	Updated     string            `json:"updated,omitempty"`
}

// MaxDocumentBytes bounds the input of [DecodeDocuments].
const MaxDocumentBytes = 16 << 20

// DecodeDocuments reads the definitions in data: YAML documents separated
// by "---", or JSON (one object, or an array of objects). Each names its
// kind ("kind: catalog_database" or "kind: catalog_table") and is checked
// as the catalog
// checks it, so that every problem of every document is reported at once,
// each with its line, column and field path, in a [*DefinitionError]
// (which wraps [ErrInvalid]). source names data in messages (a file
// name). Fields the catalog sets (version, created, updated) are accepted
// and ignored, so that the output of `catalog get --json` applies back.
func DecodeDocuments(data []byte, source string) (docs []*Document, err error) {
	return DecodeDocumentsWith(data, source, DecodeOptions{})
}

// DecodeOptions qualify [DecodeDocumentsWith].
type DecodeOptions struct {
	// SkipOtherKinds skips documents whose kind is missing or not the
	// catalog's (job, trigger or endpoint definitions in the same
	// directory) instead of reporting them.
	SkipOtherKinds bool
}

// DecodeDocumentsWith is [DecodeDocuments] with options.
func DecodeDocumentsWith(data []byte, source string, opts DecodeOptions) (docs []*Document, err error) {
	derr := &DefinitionError{Source: source}
	defer func() {
		// the YAML library is outside code: a panic on a malformed input is a
		// bad document, never a crash
		if p := recover(); p != nil {
			docs, err = nil, &DefinitionError{Source: source, Problems: []Problem{{Msg: fmt.Sprintf("unreadable document: %v", p)}}}
		}
	}()
	if len(data) > MaxDocumentBytes {
		derr.Problems = append(derr.Problems, Problem{Msg: fmt.Sprintf("larger than %d bytes", MaxDocumentBytes)})
		return nil, derr
	}
	file, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		derr.Problems = append(derr.Problems, yamlProblem(perr, ""))
		return nil, derr
	}
	var bodies []ast.Node
	for _, d := range file.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if seq, ok := unwrap(d.Body).(*ast.SequenceNode); ok {
			bodies = append(bodies, seq.Values...)
			continue
		}
		bodies = append(bodies, d.Body)
	}
	if len(bodies) == 0 && !opts.SkipOtherKinds {
		derr.Problems = append(derr.Problems, Problem{Msg: "no documents"})
		return nil, derr
	}
	for _, body := range bodies {
		if opts.SkipOtherKinds && !IsKind(kindOf(body)) {
			continue
		}
		doc, ps := decodeDocument(body)
		derr.Problems = append(derr.Problems, ps...)
		if doc != nil {
			doc.Source = source
			docs = append(docs, doc)
		}
	}
	if len(derr.Problems) > 0 {
		return nil, derr
	}
	return docs, nil
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

func nodeLine(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line, tk.Position.Column
	}
	return 0, 0
}

// yamlProblem turns an error of the YAML library into a Problem with its
// position.
func yamlProblem(err error, path string) Problem {
	p := Problem{Path: path, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		p.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p.Line, p.Col = tk.Position.Line, tk.Position.Column
		}
	}
	return p
}

// kindOf returns the kind of a document, or "".
func kindOf(body ast.Node) string {
	var head struct {
		Kind string `json:"kind"`
	}
	if yaml.NodeToValue(body, &head) != nil {
		return ""
	}
	return head.Kind
}

// decodeDocument decodes and checks one document.
func decodeDocument(body ast.Node) (*Document, []Problem) {
	line, col := nodeLine(body)
	if _, ok := unwrap(body).(*ast.MappingNode); !ok {
		if _, ok := unwrap(body).(*ast.MappingValueNode); !ok {
			return nil, []Problem{{Line: line, Col: col, Msg: "want a mapping (an object) with a kind"}}
		}
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.NodeToValue(body, &head); err != nil {
		return nil, []Problem{yamlProblem(err, "")}
	}
	doc := &Document{Kind: head.Kind, Line: line}
	var err error
	var ps problems
	switch head.Kind {
	case KindDatabase:
		var j databaseJSON
		if err := yaml.NodeToValue(body, &j, yaml.DisallowUnknownField()); err != nil {
			return nil, []Problem{yamlProblem(err, "")}
		}
		doc.Database = &Database{Name: j.Name, Description: j.Description, Parameters: j.Parameters}
		err = doc.Database.Validate()
	case KindTable:
		var j tableJSON
		if err := yaml.NodeToValue(body, &j, yaml.DisallowUnknownField()); err != nil {
			return nil, []Problem{yamlProblem(err, "")}
		}
		j.Version, j.Created, j.Updated = 0, nil, nil
		doc.Table, err = j.table()
	case "":
		ps.add("kind", "missing: want catalog_database or catalog_table")
	default:
		ps.add("kind", "unknown kind %q: want catalog_database or catalog_table", head.Kind)
	}
	var de *DefinitionError
	if errors.As(err, &de) {
		ps.list = append(ps.list, de.Problems...)
	}
	if len(ps.list) == 0 {
		return doc, nil
	}
	for i := range ps.list {
		p := &ps.list[i]
		p.Line, p.Col = locate(body, p.Path)
		if p.Line == 0 {
			p.Line, p.Col = line, col
		}
	}
	slices.SortStableFunc(ps.list, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	return nil, ps.list
}

// locate returns the position of the node at a problem path such as
// "columns[3].type", or of its nearest ancestor that exists.
func locate(body ast.Node, path string) (line, col int) {
	steps := splitPath(path)
	for n := len(steps); n > 0; n-- {
		b := (&yaml.PathBuilder{}).Root()
		for _, s := range steps[:n] {
			if s.index >= 0 {
				b = b.Index(uint(s.index))
			} else {
				b = b.Child(s.name)
			}
		}
		node, err := b.Build().FilterNode(body)
		if err == nil && node != nil {
			return nodeLine(node)
		}
	}
	return 0, 0
}

type pathStep struct {
	name  string
	index int
}

func splitPath(path string) []pathStep {
	var out []pathStep
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			out = append(out, pathStep{name: name, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if !ok || err != nil {
				break
			}
			out = append(out, pathStep{index: i})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

// ApplyResult says what applying a document did.
type ApplyResult struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Action is "created", "updated" or "unchanged".
	Action string `json:"action"`
	// Version is the table's version after the apply (tables only).
	Version int `json:"version,omitempty"`
}

// ApplyDocument creates or updates what a document defines: a database
// (its description and parameters), or a table (a new version when the
// definition differs from the latest, checked for compatibility). It is
// the entry point of `pricestream apply`.
func (c *Catalog) ApplyDocument(ctx context.Context, doc *Document) (*ApplyResult, error) {
	res := &ApplyResult{Kind: doc.Kind, Name: doc.Name()}
	switch {
	case doc.Kind == KindDatabase && doc.Database != nil:
		cur, err := c.GetDatabase(ctx, doc.Database.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			if _, err := c.CreateDatabase(ctx, *doc.Database); err != nil {
				return nil, err
			}
			res.Action = "created"
		case err != nil:
			return nil, err
		case cur.Description == doc.Database.Description && mapsEqual(cur.Parameters, doc.Database.Parameters):
			res.Action = "unchanged"
		default:
			if _, err := c.UpdateDatabase(ctx, *doc.Database); err != nil {
				return nil, err
			}
			res.Action = "updated"
		}
		return res, nil
	case doc.Kind == KindTable && doc.Table != nil:
		before, err := c.GetTable(ctx, doc.Table.Database, doc.Table.Name)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		t, created, err := c.PutTable(ctx, doc.Table)
		if err != nil {
			return nil, err
		}
		res.Version = t.Version
		switch {
		case created:
			res.Action = "created"
		case before != nil && before.Version == t.Version:
			res.Action = "unchanged"
		default:
			res.Action = "updated"
		}
		return res, nil
	}
	return nil, invalidf("document of kind %q defines nothing", doc.Kind)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
