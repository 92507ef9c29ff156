package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A Pattern is a compiled filter pattern in the syntax of Lambda's event
// filtering (a subset of EventBridge patterns). A pattern is a JSON object
// whose keys name fields of the record; a key maps either to an object
// (descend into the field) or to an array of conditions, any of which may
// match (OR). Every key of a pattern must match (AND). Conditions:
//
//	"text", 12.5, true, null       the field equals the value (numbers compare numerically)
//	{"prefix": "text"}             a string field starts with text
//	{"suffix": "text"}             a string field ends with text
//	{"equals-ignore-case": "text"} a string field equals text, ignoring case
//	{"wildcard": "a*b"}            a string field matches, '*' standing for any run of characters
//	{"numeric": [">", 0, "<=", 5]} a number field is in range (operators =, <, <=, >, >=)
//	{"exists": true}               the field is present (false: it is absent)
//	{"anything-but": V}            the field is present and matches none of V: a value,
//	                               an array of values, or a prefix/suffix/equals-ignore-case condition
//
// When a record's field holds an array, a condition matches if it matches
// any element. A Pattern is immutable and safe for concurrent use.
type Pattern struct {
	root *patternNode
}

type patternNode struct {
	fields []patternField // sorted by name
}

type patternField struct {
	name  string
	sub   *patternNode // an object pattern, or
	conds []condition  // an array of conditions
}

type condKind uint8

const (
	condEqual condKind = iota
	condPrefix
	condSuffix
	condIgnoreCase
	condWildcard
	condNumeric
	condExists
	condAnythingBut
)

type valueKind uint8

const (
	valString valueKind = iota
	valNumber
	valBool
	valNull
)

type condition struct {
	kind   condKind
	vkind  valueKind // for condEqual
	str    string
	num    float64
	bool   bool
	ranges []numBound  // condNumeric
	not    []condition // condAnythingBut
	exists bool        // condExists
}

type numBound struct {
	op  string
	val float64
}

// Pattern size limits: Lambda allows 4,096 characters per pattern.
const (
	maxPatternBytes = 4096
	maxPatternDepth = 32
)

// ParsePattern compiles a filter pattern from JSON. Errors name the path of
// the bad part ("data.price: numeric: ...").
func ParsePattern(data []byte) (*Pattern, error) {
	if len(data) > maxPatternBytes {
		return nil, fmt.Errorf("pattern is %d bytes, more than %d", len(data), maxPatternBytes)
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("pattern is not JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("pattern must be a JSON object")
	}
	root, err := parseNode(obj, "", 0)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// decodeJSON decodes one JSON value, numbers as json.Number, refusing
// trailing data.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func parseNode(obj map[string]any, path string, depth int) (*patternNode, error) {
	if depth > maxPatternDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d", path, maxPatternDepth)
	}
	if len(obj) == 0 {
		if path == "" {
			return nil, errors.New("pattern is empty: it must name at least one field")
		}
		return nil, fmt.Errorf("%s: empty object: it must name at least one field", path)
	}
	n := &patternNode{}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		p := join(path, name)
		switch x := obj[name].(type) {
		case map[string]any:
			sub, err := parseNode(x, p, depth+1)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, patternField{name: name, sub: sub})
		case []any:
			if len(x) == 0 {
				return nil, fmt.Errorf("%s: empty array: it must hold at least one condition", p)
			}
			conds := make([]condition, 0, len(x))
			for _, e := range x {
				c, err := parseCondition(e, p)
				if err != nil {
					return nil, err
				}
				conds = append(conds, c)
			}
			n.fields = append(n.fields, patternField{name: name, conds: conds})
		default:
			return nil, fmt.Errorf("%s: want an object or an array of conditions, got %s", p, describe(x))
		}
	}
	return n, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func literal(v any, path string) (condition, error) {
	switch x := v.(type) {
	case nil:
		return condition{kind: condEqual, vkind: valNull}, nil
	case string:
		return condition{kind: condEqual, vkind: valString, str: x}, nil
	case bool:
		return condition{kind: condEqual, vkind: valBool, bool: x}, nil
	case json.Number:
		f, err := finite(x)
		if err != nil {
			return condition{}, fmt.Errorf("%s: %v", path, err)
		}
		return condition{kind: condEqual, vkind: valNumber, num: f}, nil
	}
	return condition{}, fmt.Errorf("%s: want a value or a condition object, got %s", path, describe(v))
}

func finite(n json.Number) (float64, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("number %s is out of range", n)
	}
	return f, nil
}

func parseCondition(v any, path string) (condition, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return literal(v, path)
	}
	if len(obj) != 1 {
		return condition{}, fmt.Errorf("%s: a condition object holds exactly one operator, got %d", path, len(obj))
	}
	for op, arg := range obj {
		p := path + ": " + op
		switch op {
		case "prefix", "suffix", "equals-ignore-case", "wildcard":
			s, ok := arg.(string)
			if !ok {
				return condition{}, fmt.Errorf("%s: want a string, got %s", p, describe(arg))
			}
			kind := map[string]condKind{"prefix": condPrefix, "suffix": condSuffix, "equals-ignore-case": condIgnoreCase, "wildcard": condWildcard}[op]
			if kind == condWildcard && strings.Contains(s, "**") {
				return condition{}, fmt.Errorf("%s: consecutive '*' are not allowed", p)
			}
			return condition{kind: kind, str: s}, nil
		case "exists":
			b, ok := arg.(bool)
			if !ok {
				return condition{}, fmt.Errorf("%s: want true or false, got %s", p, describe(arg))
			}
			return condition{kind: condExists, exists: b}, nil
		case "numeric":
			arr, ok := arg.([]any)
			if !ok || len(arr) == 0 || len(arr)%2 != 0 || len(arr) > 4 {
				return condition{}, fmt.Errorf("%s: want [op, number] or [op, number, op, number]", p)
			}
			c := condition{kind: condNumeric}
			for i := 0; i < len(arr); i += 2 {
				o, ok := arr[i].(string)
				if !ok || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, o) {
					return condition{}, fmt.Errorf("%s: operator %v: want =, <, <=, > or >=", p, arr[i])
				}
				n, ok := arr[i+1].(json.Number)
				if !ok {
					return condition{}, fmt.Errorf("%s: want a number after %q, got %s", p, o, describe(arr[i+1]))
				}
				f, err := finite(n)
				if err != nil {
					return condition{}, fmt.Errorf("%s: %v", p, err)
				}
				c.ranges = append(c.ranges, numBound{op: o, val: f})
			}
			if len(c.ranges) == 2 && (c.ranges[0].op == "=" || c.ranges[1].op == "=") {
				return condition{}, fmt.Errorf("%s: '=' stands alone", p)
			}
			return c, nil
		case "anything-but":
			c := condition{kind: condAnythingBut}
			switch x := arg.(type) {
			case []any:
				if len(x) == 0 {
					return condition{}, fmt.Errorf("%s: empty array", p)
				}
				for _, e := range x {
					l, err := literal(e, p)
					if err != nil {
						return condition{}, err
					}
					c.not = append(c.not, l)
				}
			case map[string]any:
				inner, err := parseCondition(x, p)
				if err != nil {
					return condition{}, err
				}
				if inner.kind != condPrefix && inner.kind != condSuffix && inner.kind != condIgnoreCase {
					return condition{}, fmt.Errorf("%s: inside anything-but only prefix, suffix or equals-ignore-case", p)
				}
				c.not = []condition{inner}
			default:
				l, err := literal(x, p)
				if err != nil {
					return condition{}, err
				}
				c.not = []condition{l}
			}
			return c, nil
		default:
			return condition{}, fmt.Errorf("%s: unknown operator: want prefix, suffix, equals-ignore-case, wildcard, numeric, exists or anything-but", p)
		}
	}
	panic("unreachable")
}

// Match reports whether doc (a JSON object decoded with numbers as
// json.Number or float64) matches the pattern.
func (p *Pattern) Match(doc map[string]any) bool { return p.root.match(doc) }

func (n *patternNode) match(doc map[string]any) bool {
	for i := range n.fields {
		f := &n.fields[i]
		v, present := doc[f.name]
		if f.sub != nil {
			if !matchObject(f.sub, v) {
				return false
			}
			continue
		}
		// DynamoDB numbers are strings ({"N": "3"}); numeric conditions
		// read them as numbers, as Lambda's DynamoDB filtering does.
		if f.name == "N" {
			if str, ok := v.(string); ok {
				v = numString(str)
			}
		}
		if !matchConds(f.conds, v, present) {
			return false
		}
	}
	return true
}

func matchObject(n *patternNode, v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return n.match(x)
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok && n.match(m) {
				return true
			}
		}
	}
	// An absent field matches an object pattern only if every condition
	// below accepts absence ({"exists": false}).
	return n.match(nil)
}

func matchConds(conds []condition, v any, present bool) bool {
	if arr, ok := v.([]any); ok && present {
		for _, c := range conds {
			if c.kind == condExists {
				if c.exists {
					return true
				}
				continue
			}
			for _, e := range arr {
				if c.matchLeaf(e) {
					return true
				}
			}
		}
		return false
	}
	for _, c := range conds {
		if c.kind == condExists {
			_, isObj := v.(map[string]any)
			if c.exists == (present && !isObj) {
				return true
			}
			continue
		}
		if present && c.matchLeaf(v) {
			return true
		}
	}
	return false
}

// numString is a DynamoDB number: a string that numeric conditions read
// as a number and string conditions as a string.
type numString string

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case numString:
		return string(x), true
	}
	return "", false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case numString:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func (c *condition) matchLeaf(v any) bool {
	switch c.kind {
	case condEqual:
		switch c.vkind {
		case valNull:
			return v == nil
		case valString:
			s, ok := asString(v)
			return ok && s == c.str
		case valBool:
			b, ok := v.(bool)
			return ok && b == c.bool
		case valNumber:
			f, ok := toFloat(v)
			return ok && f == c.num
		}
	case condPrefix:
		s, ok := asString(v)
		return ok && strings.HasPrefix(s, c.str)
	case condSuffix:
		s, ok := asString(v)
		return ok && strings.HasSuffix(s, c.str)
	case condIgnoreCase:
		s, ok := asString(v)
		return ok && strings.EqualFold(s, c.str)
	case condWildcard:
		s, ok := asString(v)
		return ok && wildcard(c.str, s)
	case condNumeric:
		f, ok := toFloat(v)
		if !ok {
			return false
		}
		for _, b := range c.ranges {
			var in bool
			switch b.op {
			case "=":
				in = f == b.val
			case "<":
				in = f < b.val
			case "<=":
				in = f <= b.val
			case ">":
				in = f > b.val
			case ">=":
				in = f >= b.val
			}
			if !in {
				return false
			}
		}
		return true
	case condAnythingBut:
		if _, isObj := v.(map[string]any); isObj {
			return false
		}
		for i := range c.not {
			if c.not[i].matchLeaf(v) {
				return false
			}
		}
		return true
	}
	return false
}

// wildcard matches s against pattern p where '*' stands for any run of
// characters (greedy with backtracking to the last star: linear in
// practice, quadratic at worst).
func wildcard(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Filters is a set of compiled patterns: a record passes when any matches,
// or always when there are none.
type Filters []*Pattern

// CompileFilters compiles the spec's patterns.
func CompileFilters(fs []Filter) (Filters, error) {
	out := make(Filters, 0, len(fs))
	for i, f := range fs {
		p, err := ParsePattern(f.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: filters[%d].pattern: %v", ErrInvalidArgument, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Match reports whether doc passes.
func (fs Filters) Match(doc map[string]any) bool {
	if len(fs) == 0 {
		return true
	}
	for _, p := range fs {
		if p.Match(doc) {
			return true
		}
	}
	return false
}

// imageAttrs returns the top-level attributes of a table change's images
// that the patterns read (dynamodb.NewImage.NAME and
// dynamodb.OldImage.NAME), sorted and without repeats, so that projected
// images match as the whole ones would; whole is true when a pattern has
// conditions on an image, or on the dynamodb object, as a whole.
func (fs Filters) imageAttrs() (names []string, whole bool) {
	for _, p := range fs {
		for i := range p.root.fields {
			f := &p.root.fields[i]
			if f.name != "dynamodb" {
				continue
			}
			if f.sub == nil {
				return nil, true
			}
			for j := range f.sub.fields {
				img := &f.sub.fields[j]
				if img.name != "NewImage" && img.name != "OldImage" {
					continue
				}
				if img.sub == nil {
					return nil, true
				}
				for k := range img.sub.fields {
					names = append(names, img.sub.fields[k].name)
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), false
}
