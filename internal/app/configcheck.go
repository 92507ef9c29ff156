package app

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// CheckFile reads a YAML configuration file over the defaults, reporting
// every problem at once, each with its path, line and column: keys that are not
// settings, values of the wrong type, and the problems [Config.Validate]
// finds in the values that did decode. It is what `config validate` runs;
// [LoadFile] stops at the first problem of the YAML.
func CheckFile(path string) (Config, error) {
	cfg := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	errs := decodeAll(b, &cfg)
	for i, e := range errs {
		errs[i] = fmt.Errorf("%s: %w", path, e)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// decodeAll decodes YAML into cfg strictly; when that fails it decodes it
// again setting by setting, to report every problem rather than the first.
func decodeAll(b []byte, cfg *Config) []error {
	strict := *cfg
	err := yaml.UnmarshalWithOptions(b, &strict, yaml.Strict())
	if err == nil {
		*cfg = strict
		return nil
	}
	if errs := decodeLenient(b, cfg); len(errs) > 0 {
		return errs
	}
	return []error{fmt.Errorf("%s", yaml.FormatError(err, false, true))}
}

// decodeLenient decodes YAML into cfg setting by setting: a problem with
// one setting is reported and the others are still decoded. Aliases of
// whole sections are not followed (they are reported as problems), so it
// only runs on files the strict decoder refused.
func decodeLenient(b []byte, cfg *Config) []error {
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return []error{fmt.Errorf("%s", yaml.FormatError(err, false, true))}
	}
	var errs []error
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		decodeNode(doc.Body, reflect.ValueOf(cfg).Elem(), "", &errs)
		break // one document
	}
	return errs
}

var (
	bytesUnmarshaler = reflect.TypeFor[yaml.BytesUnmarshaler]()
	durationType     = reflect.TypeFor[time.Duration]()
)

// isSection reports whether a type is a section of settings (a struct
// decoded key by key) rather than one setting.
func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct || t == durationType {
		return false
	}
	pt := reflect.PointerTo(t)
	return !pt.Implements(textUnmarshaler) && !pt.Implements(bytesUnmarshaler)
}

// at returns the [line:column] of a node, as goccy/go-yaml writes it.
func at(n ast.Node) string {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return fmt.Sprintf("[%d:%d]", tk.Position.Line, tk.Position.Column)
	}
	return "[?]"
}

func nodeKind(n ast.Node) string {
	return strings.ToLower(strings.TrimSuffix(n.Type().String(), "Type"))
}

func decodeNode(n ast.Node, v reflect.Value, path string, errs *[]error) {
	for {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
			continue
		case *ast.TagNode:
			n = x.Value
			continue
		case *ast.CommentGroupNode:
			return
		}
		break
	}
	if n == nil || n.Type() == ast.NullType {
		return
	}
	if !isSection(v.Type()) {
		tmp := reflect.New(v.Type())
		tmp.Elem().Set(v)
		if err := yaml.NodeToValue(n, tmp.Interface(), yaml.Strict()); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %s %s", path, at(n), oneLine(yaml.FormatError(err, false, false))))
			return
		}
		v.Set(tmp.Elem())
		return
	}
	var pairs []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		pairs = x.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{x}
	default:
		where := path
		if where == "" {
			where = "(top level)"
		}
		*errs = append(*errs, fmt.Errorf("%s: %s want a mapping of settings, got a %s", where, at(n), nodeKind(n)))
		return
	}
	fields := sectionFields(v.Type())
	for _, kv := range pairs {
		key := kv.Key.String()
		p := key
		if path != "" {
			p = path + "." + key
		}
		i, ok := fields[key]
		if !ok {
			*errs = append(*errs, fmt.Errorf("%s: %s unknown setting%s", p, at(kv.Key), suggest(key, fields)))
			continue
		}
		decodeNode(kv.Value, v.Field(i), p, errs)
	}
}

// sectionFields maps the YAML keys of a section to its field indexes.
func sectionFields(t reflect.Type) map[string]int {
	m := make(map[string]int)
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "-" || !sf.IsExported() {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(sf.Name)
		}
		m[tag] = i
	}
	return m
}

// suggest names the closest setting of a section to a mistyped key.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	// goccy prefixes "[line:col] "; the caller gives the line itself.
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "] "); i > 0 {
			s = s[i+2:]
		}
	}
	return s
}
