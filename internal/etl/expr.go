package etl

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/pricestream/pricestream/internal/record"
)

// Expressions (filter, map, assert, split_rows, aggregates, outputs) use
// github.com/expr-lang/expr. They are compiled once, when a job is
// applied, against the schema of the records they see, so that a wrong
// field name or a type error fails the apply. Field names are patched into
// calls of typed getters that read the field from the Record by a cached
// position ([record.Ref]): no map is built per record. Expressions made of
// fields, literals, arithmetic, comparisons, logic, the ternary and `in` a
// literal list (most filters and aggregates) are evaluated by a closure
// tree over record values without allocating; others run on expr's VM.

// getter says how an expression reads a field, from the field's type.
type getter uint8

const (
	getAny getter = iota
	getStr
	getNum
	getInt
	getBool
	getTime
)

var getterNames = [...]string{getAny: "$any", getStr: "$str", getNum: "$num", getInt: "$int", getBool: "$bool", getTime: "$time"}

func getterOf(t *record.Type) getter {
	if t == nil {
		return getAny
	}
	switch t.Kind {
	case record.KindString:
		return getStr
	case record.KindDouble, record.KindDecimal:
		return getNum
	case record.KindInt, record.KindLong:
		return getInt
	case record.KindBool:
		return getBool
	case record.KindTimestamp, record.KindDate:
		return getTime
	}
	return getAny
}

// exprEnv is the environment an expression runs in: the record.
type exprEnv struct{ rec *record.Record }

// fieldRef is a field an expression reads. Like a [record.Ref] it
// remembers where the field was last found; it reads the value in place
// (a Ref returns a 40-byte copy, and the typed reads of the fast path
// then copy it again, on a path that reads some twenty fields per event).
type fieldRef struct {
	path   string
	hint   atomic.Int32 // index of the field in the last record it was found in
	get    getter
	nested bool // path has a '.' or '[': a missing top-level name is looked up as a path
}

func newFieldRef(path string, get getter) *fieldRef {
	return &fieldRef{path: path, get: get, nested: strings.ContainsAny(path, ".[")}
}

// schemaName returns the string s itself holds for its top-level column
// called name, or name when s has no such column. A decoder typed by s
// names a record's fields with those strings, so a Ref or field reference
// made with the result finds its field by a pointer compare (the first
// test of runtime.memequal) instead of comparing bytes.
func schemaName(s *record.Schema, name string) string {
	if s != nil {
		if c := s.Lookup(name); c != nil {
			return c.Name
		}
	}
	return name
}

// at returns the index of the top-level field called f.path in fs, or -1.
// Under the schema's own string for the name (see schemaName) the compare
// at the hint is runtime.memequal's pointer test, not a byte compare.
func (f *fieldRef) at(fs []record.Field) int {
	if h := int(f.hint.Load()); h < len(fs) && fs[h].Name == f.path {
		return h
	}
	return f.scan(fs)
}

func (f *fieldRef) scan(fs []record.Field) int {
	for i := range fs {
		if fs[i].Name == f.path {
			f.hint.Store(int32(i))
			return i
		}
	}
	return -1
}

// value returns the field's value in r: null when r has no such field.
func (f *fieldRef) value(r *record.Record) record.Value {
	fs := r.Fields()
	if i := f.at(fs); i >= 0 {
		return fs[i].Value
	}
	return f.lookup(r)
}

// lookup is value for a field that is not at the top level.
func (f *fieldRef) lookup(r *record.Record) record.Value {
	if f.nested {
		v, _ := r.Lookup(f.path)
		return v
	}
	return record.Value{}
}

// Expr is a compiled expression. It is immutable and safe for concurrent
// use; evaluate it through an [exprEval], one per goroutine.
type Expr struct {
	src    string
	prog   *vm.Program
	fields []*fieldRef
	out    reflect.Type // result type (nil: any)
	fast   *fastNode
	typed  typedFn // fast compiled to closures (none set: use fast.eval)
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// resultType returns the record type of the expression's result, for the
// schema of what follows.
func (e *Expr) resultType() *record.Type {
	if e.fast != nil {
		switch e.fast.kind {
		case fkNum:
			return record.TypeDouble
		case fkInt:
			return record.TypeLong
		case fkStr:
			return record.TypeString
		case fkBool:
			return record.TypeBool
		case fkTime:
			return record.TypeTime
		}
	}
	if e.out == nil {
		return nil
	}
	switch e.out.Kind() {
	case reflect.Float32, reflect.Float64:
		return record.TypeDouble
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return record.TypeLong
	case reflect.String:
		return record.TypeString
	case reflect.Bool:
		return record.TypeBool
	}
	if e.out == reflect.TypeFor[time.Time]() {
		return record.TypeTime
	}
	return nil
}

// exprKind constrains the result of an expression.
type exprKind uint8

const (
	wantAny exprKind = iota
	wantBool
	wantNumber
)

// compileExpr compiles src against schema (nil: fields untyped and not
// checked). Errors name the problem without a path; callers add it.
func compileExpr(src string, schema *record.Schema, want exprKind) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	e := &Expr{src: src}
	p := &fieldPatcher{e: e, schema: schema, locals: map[string]bool{}}
	if tree, err := parser.Parse(src); err == nil {
		ast.Find(tree.Node, func(n ast.Node) bool {
			if d, ok := n.(*ast.VariableDeclaratorNode); ok {
				p.locals[d.Name] = true
			}
			return false
		})
	}
	opts := []expr.Option{
		expr.Env(exprEnv{}),
		expr.Patch(p),
		expr.Function("isnull", func(args ...any) (any, error) { return args[0] == nil, nil }, new(func(any) bool)),
		expr.Function("$isnull", func(args ...any) (any, error) {
			env := args[0].(*exprEnv)
			return e.fields[args[1].(int)].value(env.rec).IsNull(), nil
		}, new(func(any, int) bool)),
	}
	for g, name := range getterNames {
		get := getter(g)
		opts = append(opts, expr.Function(name, func(args ...any) (any, error) {
			env := args[0].(*exprEnv)
			v := e.fields[args[1].(int)].value(env.rec)
			return goValue(v, get), nil
		}, getterType(get)))
	}
	switch want {
	case wantBool:
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if len(p.errs) > 0 {
		return nil, p.errs[0]
	}
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("%s", msg)
	}
	e.prog = prog
	if n := prog.Node(); n != nil {
		e.out = n.Type()
	}
	if want == wantNumber {
		switch rt := e.resultType(); {
		case rt == nil:
		case rt.Kind == record.KindDouble || rt.Kind == record.KindLong:
		default:
			return nil, fmt.Errorf("want a number, the expression gives %s", rt)
		}
	}
	e.fast = compileFast(prog.Node(), e)
	e.typed = compileTyped(e.fast)
	return e, nil
}

func getterType(g getter) any {
	switch g {
	case getStr:
		return new(func(any, int) string)
	case getNum:
		return new(func(any, int) float64)
	case getInt:
		return new(func(any, int) int)
	case getBool:
		return new(func(any, int) bool)
	case getTime:
		return new(func(any, int) time.Time)
	}
	return new(func(any, int) any)
}

// fieldPatcher replaces the field names of an expression by typed getter
// calls, and reports names the schema does not know.
type fieldPatcher struct {
	e      *Expr
	schema *record.Schema
	errs   []error
	calls  map[ast.Node]string // getter calls made, by path
	locals map[string]bool
}

func (p *fieldPatcher) field(path string, t *record.Type) int {
	for i, f := range p.e.fields {
		if f.path == path {
			return i
		}
	}
	p.e.fields = append(p.e.fields, newFieldRef(schemaName(p.schema, path), getterOf(t)))
	return len(p.e.fields) - 1
}

func (p *fieldPatcher) call(name string, idx int, path string) *ast.CallNode {
	c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, &ast.IntegerNode{Value: idx}}}
	if p.calls == nil {
		p.calls = map[ast.Node]string{}
	}
	p.calls[c] = path
	return c
}

// lookupType returns the type of a (dotted) path in the schema.
func lookupType(s *record.Schema, path string) (*record.Type, bool) {
	if c := s.Lookup(path); c != nil {
		return c.Type, true
	}
	head, rest, ok := strings.Cut(path, ".")
	if !ok {
		return nil, false
	}
	c := s.Lookup(head)
	if c == nil {
		return nil, false
	}
	t := c.Type
	for rest != "" {
		var name string
		name, rest, _ = strings.Cut(rest, ".")
		switch t.Kind {
		case record.KindStruct:
			f := t.Field(name)
			if f == nil {
				return nil, false
			}
			t = f.Type
		case record.KindMap:
			t = t.Elem
		default:
			return nil, false
		}
	}
	return t, true
}

var builtinNames = map[string]bool{"isnull": true, "$env": true, "nil": true, "true": true, "false": true}

// Visit patches identifiers (children first: expr's walk is post-order).
func (p *fieldPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		name := n.Value
		if builtinNames[name] || p.locals[name] || strings.HasPrefix(name, "$") {
			return
		}
		if p.schema == nil {
			ast.Patch(node, p.call("$any", p.field(name, nil), name))
			return
		}
		t, ok := lookupType(p.schema, name)
		if !ok {
			if isBuiltinFunc(name) {
				return
			}
			p.errs = append(p.errs, fmt.Errorf("unknown field %q", name))
			return
		}
		g := getterOf(t)
		ast.Patch(node, p.call(getterNames[g], p.field(name, t), name))
	case *ast.MemberNode:
		base, ok := p.calls[n.Node]
		prop, isStr := n.Property.(*ast.StringNode)
		if !ok || !isStr {
			return
		}
		path := base + "." + prop.Value
		if p.schema == nil {
			ast.Patch(node, p.call("$any", p.field(path, nil), path))
			return
		}
		t, ok := lookupType(p.schema, path)
		if !ok {
			p.errs = append(p.errs, fmt.Errorf("unknown field %q", path))
			return
		}
		ast.Patch(node, p.call(getterNames[getterOf(t)], p.field(path, t), path))
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "isnull" || len(n.Arguments) != 1 {
			return
		}
		if path, ok := p.calls[n.Arguments[0]]; ok {
			ast.Patch(node, p.call("$isnull", p.field(path, nil), path))
		}
	}
}

// isBuiltinFunc reports whether name is one of expr's builtin functions,
// which an identifier may name only as a callee (patched calls keep it).
func isBuiltinFunc(name string) bool {
	switch name {
	case "len", "all", "none", "any", "one", "filter", "map", "count", "sum", "find", "findIndex", "findLast", "findLastIndex",
		"groupBy", "sortBy", "reduce", "trim", "trimPrefix", "trimSuffix", "upper", "lower", "split", "splitAfter", "replace",
		"repeat", "join", "indexOf", "lastIndexOf", "hasPrefix", "hasSuffix", "max", "min", "abs", "ceil", "floor", "round",
		"mean", "median", "int", "float", "string", "toJSON", "fromJSON", "toBase64", "fromBase64", "now", "duration", "date",
		"timezone", "first", "last", "get", "take", "keys", "values", "toPairs", "fromPairs", "sort", "bitand", "bitor", "bitxor",
		"bitnand", "bitnot", "bitshl", "bitshr", "bitushr", "type", "flatten", "uniq", "concat":
		return true
	}
	return false
}

// goValue converts a record value for the VM, read as the getter's type.
// Null reads as the type's zero value (use isnull(field) to tell).
func goValue(v record.Value, g getter) any {
	switch g {
	case getStr:
		if v.Kind() == record.KindString {
			return v.Str()
		}
		if v.IsNull() {
			return ""
		}
		return v.Text()
	case getNum:
		f, _ := v.AsDouble()
		return f
	case getInt:
		n, ok := v.AsLong()
		if !ok {
			f, _ := v.AsDouble()
			n = int64(f)
		}
		return int(n)
	case getBool:
		return v.Bool()
	case getTime:
		if v.Kind() == record.KindTimestamp || v.Kind() == record.KindDate {
			return v.Time()
		}
		return time.Time{}
	}
	return anyValue(v)
}

// anyValue converts a record value to a plain Go value (nested values to
// maps and slices).
func anyValue(v record.Value) any {
	switch v.Kind() {
	case record.KindNull:
		return nil
	case record.KindBool:
		return v.Bool()
	case record.KindInt, record.KindLong:
		return int(v.Long())
	case record.KindDouble, record.KindDecimal:
		f, _ := v.AsDouble()
		return f
	case record.KindString, record.KindBinary:
		return v.Str()
	case record.KindTimestamp, record.KindDate:
		return v.Time()
	case record.KindArray:
		arr := v.Array()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = anyValue(e)
		}
		return out
	case record.KindStruct, record.KindMap:
		r := v.Struct()
		if r == nil {
			r = v.Map()
		}
		out := make(map[string]any, r.Len())
		for name, fv := range r.All() {
			out[name] = anyValue(fv)
		}
		return out
	}
	return nil
}

// recordValue converts a Go value an expression produced to a record
// value; nested values are built in owner's storage.
func recordValue(x any, owner *record.Record) record.Value {
	switch v := x.(type) {
	case nil:
		return record.NullValue()
	case bool:
		return record.BoolValue(v)
	case int:
		return record.LongValue(int64(v))
	case int64:
		return record.LongValue(v)
	case int32:
		return record.LongValue(int64(v))
	case uint64:
		return record.LongValue(int64(v))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return record.NullValue()
		}
		return record.DoubleValue(v)
	case float32:
		return record.DoubleValue(float64(v))
	case string:
		return record.StringValue(v)
	case time.Time:
		return record.TimestampValue(v)
	case time.Duration:
		return record.LongValue(int64(v))
	case []any:
		arr := owner.AllocArray(len(v))
		for _, e := range v {
			arr.AppendItem(recordValue(e, owner))
		}
		return record.ArrayOf(arr)
	case map[string]any:
		r := owner.Alloc()
		for k, e := range v {
			r.Append(k, recordValue(e, owner))
		}
		return record.StructValue(r)
	}
	return record.StringValue(fmt.Sprint(x))
}

// exprEval evaluates expressions for one goroutine: it owns a VM.
type exprEval struct {
	vm  vm.VM
	env exprEnv
}

// run evaluates e on r with the VM.
func (ev *exprEval) run(e *Expr, r *record.Record) (any, error) {
	ev.env.rec = r
	out, err := ev.vm.Run(e.prog, &ev.env)
	ev.env.rec = nil
	return out, err
}

// Bool evaluates a condition.
func (ev *exprEval) Bool(e *Expr, r *record.Record) (bool, error) {
	if e.typed.b != nil {
		return e.typed.b(r), nil
	}
	if e.fast != nil {
		v := e.fast.eval(r)
		return v.k == fkBool && v.i != 0, nil
	}
	out, err := ev.run(e, r)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// Value evaluates an expression to a record value (nested values built in
// owner's storage).
func (ev *exprEval) Value(e *Expr, r, owner *record.Record) (record.Value, error) {
	switch t := &e.typed; {
	case t.b != nil:
		return record.BoolValue(t.b(r)), nil
	case t.i != nil:
		return record.LongValue(t.i(r)), nil
	case t.t != nil:
		return record.TimestampNanos(t.t(r)), nil
	case t.f != nil:
		return doubleValue(t.f(r)), nil
	case t.s != nil:
		return record.StringValue(t.s(r)), nil
	}
	if e.fast != nil {
		return e.fast.eval(r).value(), nil
	}
	out, err := ev.run(e, r)
	if err != nil {
		return record.Value{}, err
	}
	return recordValue(out, owner), nil
}

// Number evaluates a numeric expression; ok is false when it is null or
// not a number.
func (ev *exprEval) Number(e *Expr, r *record.Record) (f float64, ok bool, err error) {
	switch t := &e.typed; {
	case t.f != nil:
		return t.f(r), true, nil
	case t.i != nil:
		return float64(t.i(r)), true, nil
	case t.b != nil, t.t != nil, t.s != nil:
		return 0, false, nil
	}
	if e.fast != nil {
		v := e.fast.eval(r)
		switch v.k {
		case fkNum:
			return v.f, true, nil
		case fkInt:
			return float64(v.i), true, nil
		}
		return 0, false, nil
	}
	out, err := ev.run(e, r)
	if err != nil {
		return 0, false, err
	}
	switch x := out.(type) {
	case float64:
		return x, true, nil
	case int:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	}
	return 0, false, nil
}
