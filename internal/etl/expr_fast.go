package etl

import (
	"reflect"
	"time"

	"github.com/expr-lang/expr/ast"

	"github.com/pricestream/pricestream/internal/record"
)

// The fast path: a checked expression tree made only of field reads,
// literals, arithmetic, comparisons, logic, the ternary, `in` a literal
// list, max and min of two numbers of one kind, and the seconds between
// two time fields (`(a - b).Seconds()`) becomes a tree of nodes evaluated
// over record values with no allocation. compileFast returns nil for any
// other tree; the VM runs it.

type fkind uint8

const (
	fkNull fkind = iota
	fkBool
	fkInt
	fkNum
	fkStr
	fkTime // i: Unix nanoseconds
)

// fval is a value of the fast path.
type fval struct {
	k fkind
	i int64
	f float64
	s string
}

func (v fval) value() record.Value {
	switch v.k {
	case fkBool:
		return record.BoolValue(v.i != 0)
	case fkInt:
		return record.LongValue(v.i)
	case fkNum:
		return doubleValue(v.f)
	case fkStr:
		return record.StringValue(v.s)
	case fkTime:
		return record.TimestampNanos(v.i)
	}
	return record.NullValue()
}

func (v fval) num() float64 {
	if v.k == fkInt || v.k == fkTime {
		return float64(v.i)
	}
	return v.f
}

func boolVal(b bool) fval {
	if b {
		return fval{k: fkBool, i: 1}
	}
	return fval{k: fkBool}
}

type fop uint8

const (
	opField fop = iota
	opIsNull
	opConst
	opNot
	opNeg
	opAnd
	opOr
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opInSet
	opCond
	opMax     // max(a, b) of two numbers of one kind
	opMin     // min(a, b)
	opSeconds // (a - b).Seconds() of two time fields
)

// fastNode is one node of the fast path's tree.
type fastNode struct {
	op    fop
	kind  fkind // static result kind
	field *fieldRef
	c     fval
	a, b  *fastNode
	c3    *fastNode
	set   map[string]struct{}
}

func compileFast(n ast.Node, e *Expr) *fastNode {
	if n == nil {
		return nil
	}
	defer func() { _ = recover() }() // an unexpected tree shape just means the VM
	return fastOf(n, e)
}

func constOf(x any) (fval, bool) {
	switch v := x.(type) {
	case nil:
		return fval{}, true
	case bool:
		return boolVal(v), true
	case int:
		return fval{k: fkInt, i: int64(v)}, true
	case int64:
		return fval{k: fkInt, i: v}, true
	case float64:
		return fval{k: fkNum, f: v}, true
	case string:
		return fval{k: fkStr, s: v}, true
	}
	return fval{}, false
}

func fastOf(n ast.Node, e *Expr) *fastNode {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return &fastNode{op: opConst, kind: fkInt, c: fval{k: fkInt, i: int64(n.Value)}}
	case *ast.FloatNode:
		return &fastNode{op: opConst, kind: fkNum, c: fval{k: fkNum, f: n.Value}}
	case *ast.StringNode:
		return &fastNode{op: opConst, kind: fkStr, c: fval{k: fkStr, s: n.Value}}
	case *ast.BoolNode:
		return &fastNode{op: opConst, kind: fkBool, c: boolVal(n.Value)}
	case *ast.NilNode:
		return &fastNode{op: opConst, kind: fkNull}
	case *ast.ConstantNode:
		c, ok := constOf(n.Value)
		if !ok {
			return nil
		}
		return &fastNode{op: opConst, kind: c.k, c: c}
	case *ast.BuiltinNode:
		if (n.Name != "max" && n.Name != "min") || len(n.Arguments) != 2 {
			return nil
		}
		a, b := fastOf(n.Arguments[0], e), fastOf(n.Arguments[1], e)
		// The VM keeps the winner's own type: only two of one kind give
		// a kind known here. A null operand is the VM's to judge.
		if a == nil || b == nil || a.kind != b.kind || !isNumKind(a.kind) || !a.nonNull() || !b.nonNull() {
			return nil
		}
		op := opMax
		if n.Name == "min" {
			op = opMin
		}
		return &fastNode{op: op, kind: a.kind, a: a, b: b}
	case *ast.CallNode:
		if m, ok := n.Callee.(*ast.MemberNode); ok {
			return secondsOf(m, len(n.Arguments), e)
		}
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 2 {
			return nil
		}
		idx, ok := n.Arguments[1].(*ast.IntegerNode)
		if !ok {
			return nil
		}
		f := e.fields[idx.Value]
		switch id.Value {
		case "$isnull":
			return &fastNode{op: opIsNull, kind: fkBool, field: f}
		case "$str":
			return &fastNode{op: opField, kind: fkStr, field: f}
		case "$num":
			return &fastNode{op: opField, kind: fkNum, field: f}
		case "$int":
			return &fastNode{op: opField, kind: fkInt, field: f}
		case "$bool":
			return &fastNode{op: opField, kind: fkBool, field: f}
		case "$time":
			return &fastNode{op: opField, kind: fkTime, field: f}
		}
		return nil
	case *ast.UnaryNode:
		a := fastOf(n.Node, e)
		if a == nil {
			return nil
		}
		switch n.Operator {
		case "!", "not":
			return &fastNode{op: opNot, kind: fkBool, a: a}
		case "-":
			return &fastNode{op: opNeg, kind: a.kind, a: a}
		case "+":
			return a
		}
		return nil
	case *ast.ConditionalNode:
		c, a, b := fastOf(n.Cond, e), fastOf(n.Exp1, e), fastOf(n.Exp2, e)
		if c == nil || a == nil || b == nil {
			return nil
		}
		k := a.kind
		if a.kind != b.kind {
			if isNumKind(a.kind) && isNumKind(b.kind) {
				k = fkNum
			} else {
				return nil
			}
		}
		return &fastNode{op: opCond, kind: k, a: a, b: b, c3: c}
	case *ast.BinaryNode:
		if n.Operator == "in" {
			if c, ok := n.Right.(*ast.ConstantNode); ok {
				if set, ok := c.Value.(map[string]struct{}); ok {
					a := fastOf(n.Left, e)
					if a == nil || a.kind != fkStr {
						return nil
					}
					return &fastNode{op: opInSet, kind: fkBool, a: a, set: set}
				}
			}
			if arr, ok := n.Right.(*ast.ArrayNode); ok {
				set := map[string]struct{}{}
				for _, x := range arr.Nodes {
					s, ok := x.(*ast.StringNode)
					if !ok {
						return nil
					}
					set[s.Value] = struct{}{}
				}
				a := fastOf(n.Left, e)
				if a == nil || a.kind != fkStr {
					return nil
				}
				return &fastNode{op: opInSet, kind: fkBool, a: a, set: set}
			}
			return nil
		}
		a, b := fastOf(n.Left, e), fastOf(n.Right, e)
		if a == nil || b == nil {
			return nil
		}
		fn := &fastNode{a: a, b: b}
		switch n.Operator {
		case "&&", "and":
			fn.op, fn.kind = opAnd, fkBool
		case "||", "or":
			fn.op, fn.kind = opOr, fkBool
		case "==":
			fn.op, fn.kind = opEq, fkBool
		case "!=":
			fn.op, fn.kind = opNe, fkBool
		case "<", "<=", ">", ">=":
			if !(isNumKind(a.kind) && isNumKind(b.kind)) && !(a.kind == fkStr && b.kind == fkStr) && !(a.kind == fkTime && b.kind == fkTime) {
				return nil
			}
			fn.op = map[string]fop{"<": opLt, "<=": opLe, ">": opGt, ">=": opGe}[n.Operator]
			fn.kind = fkBool
		case "+", "-", "*", "%":
			if n.Operator == "+" && a.kind == fkStr && b.kind == fkStr {
				return nil // concatenation allocates: leave it to the VM
			}
			if !isNumKind(a.kind) || !isNumKind(b.kind) {
				return nil
			}
			fn.op = map[string]fop{"+": opAdd, "-": opSub, "*": opMul, "%": opMod}[n.Operator]
			fn.kind = fkNum
			if a.kind == fkInt && b.kind == fkInt {
				fn.kind = fkInt
			} else if n.Operator == "%" {
				return nil
			}
		case "/":
			if !isNumKind(a.kind) || !isNumKind(b.kind) {
				return nil
			}
			fn.op, fn.kind = opDiv, fkNum
		default:
			return nil
		}
		if t := n.Type(); t != nil && fn.kind == fkInt && t.Kind() == reflect.Float64 {
			fn.kind = fkNum
		}
		return fn
	}
	return nil
}

// secondsOf compiles `(a - b).Seconds()` of two time fields, the member
// call m with argc arguments; nil for any other call of a member.
func secondsOf(m *ast.MemberNode, argc int, e *Expr) *fastNode {
	p, ok := m.Property.(*ast.StringNode)
	if !ok || p.Value != "Seconds" || argc != 0 {
		return nil
	}
	sub, ok := m.Node.(*ast.BinaryNode)
	if !ok || sub.Operator != "-" {
		return nil
	}
	a, b := fastOf(sub.Left, e), fastOf(sub.Right, e)
	if a == nil || b == nil || a.op != opField || b.op != opField || a.kind != fkTime || b.kind != fkTime {
		return nil
	}
	return &fastNode{op: opSeconds, kind: fkNum, a: a, b: b}
}

// nonNull reports whether n never evaluates to null.
func (n *fastNode) nonNull() bool {
	switch n.op {
	case opConst:
		return n.c.k != fkNull
	case opMod:
		return false
	case opNeg:
		return n.a.nonNull()
	case opCond:
		return n.a.nonNull() && n.b.nonNull()
	}
	return true
}

func isNumKind(k fkind) bool { return k == fkInt || k == fkNum }

func (n *fastNode) eval(r *record.Record) fval {
	switch n.op {
	case opConst:
		return n.c
	case opField:
		switch n.kind {
		case fkStr:
			return fval{k: fkStr, s: n.field.str(r)}
		case fkNum:
			return fval{k: fkNum, f: n.field.num(r)}
		case fkInt:
			return fval{k: fkInt, i: n.field.int(r)}
		case fkBool:
			return boolVal(n.field.bool(r))
		case fkTime:
			return fval{k: fkTime, i: n.field.time(r)}
		}
	case opIsNull:
		return boolVal(n.field.value(r).IsNull())
	case opNot:
		return boolVal(n.a.eval(r).i == 0)
	case opNeg:
		v := n.a.eval(r)
		v.i, v.f = -v.i, -v.f
		return v
	case opAnd:
		if n.a.eval(r).i == 0 {
			return boolVal(false)
		}
		return boolVal(n.b.eval(r).i != 0)
	case opOr:
		if n.a.eval(r).i != 0 {
			return boolVal(true)
		}
		return boolVal(n.b.eval(r).i != 0)
	case opCond:
		if n.c3.eval(r).i != 0 {
			return n.coerce(n.a.eval(r))
		}
		return n.coerce(n.b.eval(r))
	case opInSet:
		_, ok := n.set[n.a.eval(r).s]
		return boolVal(ok)
	case opMax, opMin:
		// As the VM's max and min: the first unless the second is
		// greater (less), so a NaN first wins.
		a, b := n.a.eval(r), n.b.eval(r)
		var second bool
		if n.kind == fkInt {
			second = a.i < b.i
			if n.op == opMin {
				second = a.i > b.i
			}
		} else {
			x, y := a.num(), b.num()
			second = x < y
			if n.op == opMin {
				second = x > y
			}
		}
		if second {
			return b
		}
		return a
	case opSeconds:
		return fval{k: fkNum, f: n.a.field.goTime(r).Sub(n.b.field.goTime(r)).Seconds()}
	case opEq, opNe:
		eq := fastEqual(n.a.eval(r), n.b.eval(r))
		return boolVal(eq == (n.op == opEq))
	case opLt, opLe, opGt, opGe:
		a, b := n.a.eval(r), n.b.eval(r)
		var c int
		switch {
		case a.k == fkStr:
			c = cmpStr(a.s, b.s)
		case a.k == fkTime:
			c = cmpInt(a.i, b.i)
		case a.k == fkInt && b.k == fkInt:
			c = cmpInt(a.i, b.i)
		default:
			x, y := a.num(), b.num()
			switch {
			case x < y:
				c = -1
			case x > y:
				c = 1
			case x != y: // NaN
				return boolVal(false)
			}
		}
		switch n.op {
		case opLt:
			return boolVal(c < 0)
		case opLe:
			return boolVal(c <= 0)
		case opGt:
			return boolVal(c > 0)
		}
		return boolVal(c >= 0)
	case opAdd, opSub, opMul, opMod, opDiv:
		a, b := n.a.eval(r), n.b.eval(r)
		if n.kind == fkInt {
			switch n.op {
			case opAdd:
				return fval{k: fkInt, i: a.i + b.i}
			case opSub:
				return fval{k: fkInt, i: a.i - b.i}
			case opMul:
				return fval{k: fkInt, i: a.i * b.i}
			case opMod:
				if b.i == 0 {
					return fval{}
				}
				return fval{k: fkInt, i: a.i % b.i}
			}
		}
		x, y := a.num(), b.num()
		switch n.op {
		case opAdd:
			return fval{k: fkNum, f: x + y}
		case opSub:
			return fval{k: fkNum, f: x - y}
		case opMul:
			return fval{k: fkNum, f: x * y}
		}
		return fval{k: fkNum, f: x / y}
	}
	return fval{}
}

// Reads of a field as the kind its getter gives it, for the fast path and
// its typed closures: a null or missing field reads as the kind's zero
// value, as in the VM (goValue). Each reads the value in place when the
// field is at the top level.

func (f *fieldRef) str(r *record.Record) string {
	fs := r.Fields()
	if i := f.at(fs); i >= 0 {
		if v := &fs[i].Value; v.Kind() == record.KindString {
			return v.Str()
		}
		return readStr(fs[i].Value)
	}
	return readStr(f.lookup(r))
}

func (f *fieldRef) num(r *record.Record) float64 {
	fs := r.Fields()
	if i := f.at(fs); i >= 0 {
		if v := &fs[i].Value; v.Kind() == record.KindDouble {
			return v.Double()
		}
		return readNum(fs[i].Value)
	}
	return readNum(f.lookup(r))
}

func (f *fieldRef) int(r *record.Record) int64 {
	fs := r.Fields()
	if i := f.at(fs); i >= 0 {
		if v := &fs[i].Value; v.Kind() == record.KindLong {
			return v.Long()
		}
		return readInt(fs[i].Value)
	}
	return readInt(f.lookup(r))
}

func (f *fieldRef) bool(r *record.Record) bool {
	fs := r.Fields()
	if i := f.at(fs); i >= 0 {
		return fs[i].Value.Bool()
	}
	return f.lookup(r).Bool()
}

// time returns Unix nanoseconds (a date's midnight UTC).
func (f *fieldRef) time(r *record.Record) int64 {
	fs := r.Fields()
	if i := f.at(fs); i >= 0 {
		if v := &fs[i].Value; v.Kind() == record.KindTimestamp {
			return v.UnixNano()
		}
		return readTime(fs[i].Value)
	}
	return readTime(f.lookup(r))
}

// goTime reads the field as the VM does (goValue): a timestamp or a
// date's midnight UTC; the zero time for anything else, null included.
// Subtracting times saturates where Unix nanoseconds would not.
func (f *fieldRef) goTime(r *record.Record) time.Time {
	v := f.value(r)
	if v.Kind() == record.KindTimestamp || v.Kind() == record.KindDate {
		return v.Time()
	}
	return time.Time{}
}

// readStr, readNum, readInt and readTime convert a value read as the getter's
// kind.

func readStr(v record.Value) string {
	if v.Kind() == record.KindString {
		return v.Str()
	}
	if v.IsNull() {
		return ""
	}
	return v.Text()
}

func readNum(v record.Value) float64 {
	x, _ := v.AsDouble()
	return x
}

func readInt(v record.Value) int64 {
	i, ok := v.AsLong()
	if !ok {
		x, _ := v.AsDouble()
		i = int64(x)
	}
	return i
}

func readTime(v record.Value) int64 {
	if v.Kind() == record.KindDate {
		return v.Days() * 86400e9
	}
	return v.UnixNano()
}

func (n *fastNode) coerce(v fval) fval {
	if n.kind == fkNum && v.k == fkInt {
		return fval{k: fkNum, f: float64(v.i)}
	}
	return v
}

func fastEqual(a, b fval) bool {
	if isNumKind(a.k) && isNumKind(b.k) {
		if a.k == fkInt && b.k == fkInt {
			return a.i == b.i
		}
		return a.num() == b.num()
	}
	if a.k != b.k {
		return false
	}
	switch a.k {
	case fkStr:
		return a.s == b.s
	case fkNull:
		return true
	}
	return a.i == b.i
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
