package etl

import (
	"math"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// Typed closures compiled from the fast path's tree. fastNode.eval walks
// the tree and returns a 40-byte fval from every node, switching on the
// operator at each; a condition such as `event_type == "view"` costs a
// few hundred instructions that way. Here each node becomes a closure of
// its static kind (bool, int64, float64 or string) that calls its
// children's closures, and the common leaves (a field compared with a
// literal) become one closure that reads the field and compares.
//
// The closures compute exactly what eval computes. A node's closure is a
// projection of eval's result: boolOf(n) is eval(r).i != 0, intOf(n) is
// eval(r).i, numOf(n) is eval(r).num(), strOf(n) is eval(r).s; each
// operator's closure mirrors its case in eval. eval looks at the dynamic
// kind of a value only in comparisons and at the root; where a subtree's
// dynamic kind may differ from its static kind (null from a nil literal
// or from a % by zero, a negated boolean) the node falls back to a
// closure around eval. expr_typed_test.go checks the closures against eval
// and the VM over many expressions and records.

type (
	boolFn func(r *record.Record) bool
	intFn  func(r *record.Record) int64
	numFn  func(r *record.Record) float64
	strFn  func(r *record.Record) string
)

// typedFn is the closure of an expression's root: the one field set is
// that of the root's kind; none is set when the root may be null (the
// caller then uses eval).
type typedFn struct {
	b boolFn
	i intFn // fkInt
	t intFn // fkTime: Unix nanoseconds
	f numFn
	s strFn
}

// compileTyped returns the closure of a fast tree's root.
func compileTyped(n *fastNode) typedFn {
	if n == nil || !n.plain() {
		return typedFn{}
	}
	switch n.kind {
	case fkBool:
		return typedFn{b: boolOf(n)}
	case fkInt:
		return typedFn{i: intOf(n)}
	case fkTime:
		return typedFn{t: intOf(n)}
	case fkNum:
		return typedFn{f: numOf(n)}
	case fkStr:
		return typedFn{s: strOf(n)}
	}
	return typedFn{}
}

// plain reports whether every value n yields has n's static kind, and a
// boolean is 0 or 1: what the closures of comparisons and of the root
// assume of their operands.
func (n *fastNode) plain() bool {
	switch n.op {
	case opConst:
		return n.c.k != fkNull
	case opMod:
		return false // null when the divisor is 0
	case opNeg:
		return n.kind != fkBool && n.a.plain()
	case opCond:
		return n.a.plain() && n.b.plain()
	}
	return true
}

// boolOf returns a closure computing n.eval(r).i != 0.
func boolOf(n *fastNode) boolFn {
	switch n.op {
	case opConst:
		c := n.c.i != 0
		return func(*record.Record) bool { return c }
	case opField:
		if n.kind == fkBool {
			return n.field.bool
		}
	case opIsNull:
		f := n.field
		return func(r *record.Record) bool { return f.value(r).IsNull() }
	case opNot:
		a := boolOf(n.a)
		return func(r *record.Record) bool { return !a(r) }
	case opAnd:
		a, b := boolOf(n.a), boolOf(n.b)
		return func(r *record.Record) bool { return a(r) && b(r) }
	case opOr:
		a, b := boolOf(n.a), boolOf(n.b)
		return func(r *record.Record) bool { return a(r) || b(r) }
	case opCond:
		if n.kind == fkBool {
			c, a, b := boolOf(n.c3), boolOf(n.a), boolOf(n.b)
			return func(r *record.Record) bool {
				if c(r) {
					return a(r)
				}
				return b(r)
			}
		}
	case opInSet:
		a, set := strOf(n.a), n.set
		return func(r *record.Record) bool {
			_, ok := set[a(r)]
			return ok
		}
	case opEq, opNe:
		if f := equalOf(n.a, n.b); f != nil {
			if n.op == opNe {
				return func(r *record.Record) bool { return !f(r) }
			}
			return f
		}
	case opLt, opLe, opGt, opGe:
		if f := compareOf(n.op, n.a, n.b); f != nil {
			return f
		}
	}
	return func(r *record.Record) bool { return n.eval(r).i != 0 }
}

// equalOf returns a closure computing fastEqual(a.eval(r), b.eval(r)), or
// nil when an operand is not plain.
func equalOf(a, b *fastNode) boolFn {
	if !a.plain() || !b.plain() {
		return nil
	}
	if a.op == opConst && b.op != opConst {
		a, b = b, a // a literal on the right: the leaf cases below
	}
	switch {
	case isNumKind(a.kind) && isNumKind(b.kind):
		if a.kind == fkInt && b.kind == fkInt {
			if b.op == opConst {
				c := b.c.i
				if a.op == opField {
					f := a.field
					return func(r *record.Record) bool { return f.int(r) == c }
				}
				x := intOf(a)
				return func(r *record.Record) bool { return x(r) == c }
			}
			x, y := intOf(a), intOf(b)
			return func(r *record.Record) bool { return x(r) == y(r) }
		}
		if b.op == opConst {
			c := b.c.num()
			x := numOf(a)
			return func(r *record.Record) bool { return x(r) == c }
		}
		x, y := numOf(a), numOf(b)
		return func(r *record.Record) bool { return x(r) == y(r) }
	case a.kind != b.kind:
		return func(*record.Record) bool { return false }
	case a.kind == fkStr:
		if b.op == opConst {
			c := b.c.s
			if a.op == opField {
				f := a.field
				return func(r *record.Record) bool { return f.str(r) == c }
			}
			x := strOf(a)
			return func(r *record.Record) bool { return x(r) == c }
		}
		x, y := strOf(a), strOf(b)
		return func(r *record.Record) bool { return x(r) == y(r) }
	case a.kind == fkBool:
		x, y := boolOf(a), boolOf(b)
		return func(r *record.Record) bool { return x(r) == y(r) }
	case a.kind == fkTime:
		x, y := intOf(a), intOf(b)
		return func(r *record.Record) bool { return x(r) == y(r) }
	}
	return nil
}

// compareOf returns a closure computing the order comparison op of a and
// b as eval does, or nil when an operand is not plain.
func compareOf(op fop, a, b *fastNode) boolFn {
	if !a.plain() || !b.plain() {
		return nil
	}
	if a.op == opConst && b.op != opConst {
		a, b = b, a // c < x is x > c
		op = map[fop]fop{opLt: opGt, opLe: opGe, opGt: opLt, opGe: opLe}[op]
	}
	switch {
	case a.kind == fkStr && b.kind == fkStr:
		return orderOf(op, strOf(a), strOf(b))
	case a.kind == fkTime && b.kind == fkTime, a.kind == fkInt && b.kind == fkInt:
		if b.op == opConst && a.op == opField && a.kind == fkInt {
			f, c := a.field, b.c.i
			switch op {
			case opLt:
				return func(r *record.Record) bool { return f.int(r) < c }
			case opLe:
				return func(r *record.Record) bool { return f.int(r) <= c }
			case opGt:
				return func(r *record.Record) bool { return f.int(r) > c }
			}
			return func(r *record.Record) bool { return f.int(r) >= c }
		}
		return orderOf(op, intOf(a), intOf(b))
	case isNumKind(a.kind) && isNumKind(b.kind):
		// NaN compares false every way, as in eval
		if b.op == opConst && a.op == opField && a.kind == fkNum {
			f, c := a.field, b.c.num()
			switch op {
			case opLt:
				return func(r *record.Record) bool { return f.num(r) < c }
			case opLe:
				return func(r *record.Record) bool { return f.num(r) <= c }
			case opGt:
				return func(r *record.Record) bool { return f.num(r) > c }
			}
			return func(r *record.Record) bool { return f.num(r) >= c }
		}
		return orderOf(op, numOf(a), numOf(b))
	}
	return nil
}

func orderOf[T int64 | float64 | string](op fop, x, y func(*record.Record) T) boolFn {
	switch op {
	case opLt:
		return func(r *record.Record) bool { return x(r) < y(r) }
	case opLe:
		return func(r *record.Record) bool { return x(r) <= y(r) }
	case opGt:
		return func(r *record.Record) bool { return x(r) > y(r) }
	}
	return func(r *record.Record) bool { return x(r) >= y(r) }
}

// intOf returns a closure computing n.eval(r).i.
func intOf(n *fastNode) intFn {
	switch n.op {
	case opConst:
		c := n.c.i
		return func(*record.Record) int64 { return c }
	case opField:
		switch n.kind {
		case fkInt:
			return n.field.int
		case fkTime:
			return n.field.time
		}
	case opNeg:
		a := intOf(n.a)
		return func(r *record.Record) int64 { return -a(r) }
	case opCond:
		if n.kind == fkInt || n.kind == fkTime {
			c, a, b := boolOf(n.c3), intOf(n.a), intOf(n.b)
			return func(r *record.Record) int64 {
				if c(r) {
					return a(r)
				}
				return b(r)
			}
		}
	case opAdd, opSub, opMul, opMod:
		if n.kind != fkInt {
			break
		}
		a, b := intOf(n.a), intOf(n.b)
		if n.b.op == opConst {
			c := n.b.c.i
			switch n.op {
			case opAdd:
				return func(r *record.Record) int64 { return a(r) + c }
			case opSub:
				return func(r *record.Record) int64 { return a(r) - c }
			case opMul:
				return func(r *record.Record) int64 { return a(r) * c }
			}
		}
		switch n.op {
		case opAdd:
			return func(r *record.Record) int64 { return a(r) + b(r) }
		case opSub:
			return func(r *record.Record) int64 { return a(r) - b(r) }
		case opMul:
			return func(r *record.Record) int64 { return a(r) * b(r) }
		}
		return func(r *record.Record) int64 {
			x, y := a(r), b(r)
			if y == 0 {
				return 0 // eval's null, whose i is 0
			}
			return x % y
		}
	case opMax, opMin:
		if n.kind != fkInt {
			break
		}
		a, b := intOf(n.a), intOf(n.b)
		if n.op == opMax {
			return func(r *record.Record) int64 { return max(a(r), b(r)) }
		}
		return func(r *record.Record) int64 { return min(a(r), b(r)) }
	}
	return func(r *record.Record) int64 { return n.eval(r).i }
}

// numOf returns a closure computing n.eval(r).num().
func numOf(n *fastNode) numFn {
	switch n.op {
	case opConst:
		c := n.c.num()
		return func(*record.Record) float64 { return c }
	case opField:
		switch n.kind {
		case fkNum:
			return n.field.num
		case fkInt:
			f := n.field
			return func(r *record.Record) float64 { return float64(f.int(r)) }
		}
	case opNeg:
		switch {
		case !n.a.plain():
		case n.kind == fkInt: // eval negates the int: float64(-i), never -0.0
			a := intOf(n.a)
			return func(r *record.Record) float64 { return float64(-a(r)) }
		case n.kind == fkNum:
			a := numOf(n.a)
			return func(r *record.Record) float64 { return -a(r) }
		}
	case opCond:
		if isNumKind(n.kind) {
			c, a, b := boolOf(n.c3), numOf(n.a), numOf(n.b)
			return func(r *record.Record) float64 {
				if c(r) {
					return a(r)
				}
				return b(r)
			}
		}
	case opAdd, opSub, opMul, opMod, opDiv:
		if n.kind == fkInt {
			a := intOf(n)
			return func(r *record.Record) float64 { return float64(a(r)) }
		}
		a, b := numOf(n.a), numOf(n.b)
		switch n.op {
		case opAdd:
			return func(r *record.Record) float64 { return a(r) + b(r) }
		case opSub:
			return func(r *record.Record) float64 { return a(r) - b(r) }
		case opMul:
			return func(r *record.Record) float64 { return a(r) * b(r) }
		case opDiv:
			return func(r *record.Record) float64 { return a(r) / b(r) }
		}
	case opMax, opMin:
		if n.kind != fkNum {
			break // two ints: intOf's
		}
		// As eval: the first unless the second is greater (less), so a
		// NaN first wins.
		a, b := numOf(n.a), numOf(n.b)
		if n.op == opMax {
			return func(r *record.Record) float64 {
				x, y := a(r), b(r)
				if x < y {
					return y
				}
				return x
			}
		}
		return func(r *record.Record) float64 {
			x, y := a(r), b(r)
			if x > y {
				return y
			}
			return x
		}
	case opSeconds:
		a, b := n.a.field, n.b.field
		return func(r *record.Record) float64 { return secondsBetween(a, b, r) }
	}
	return func(r *record.Record) float64 { return n.eval(r).num() }
}

// secondsBetween is eval's `(a - b).Seconds()` of two time fields: two
// timestamps' nanoseconds subtracted as time.Time.Sub does, saturating
// where the difference overflows; a date or a null as eval reads it.
func secondsBetween(a, b *fieldRef, r *record.Record) float64 {
	fs := r.Fields()
	i, j := a.at(fs), b.at(fs)
	if i < 0 || j < 0 || fs[i].Value.Kind() != record.KindTimestamp || fs[j].Value.Kind() != record.KindTimestamp {
		return a.goTime(r).Sub(b.goTime(r)).Seconds()
	}
	x, y := fs[i].Value.UnixNano(), fs[j].Value.UnixNano()
	d := x - y
	if (d < 0) != (x < y) { // overflowed: Sub's saturation
		if x < y {
			return time.Duration(math.MinInt64).Seconds()
		}
		return time.Duration(math.MaxInt64).Seconds()
	}
	return time.Duration(d).Seconds()
}

// strOf returns a closure computing n.eval(r).s.
func strOf(n *fastNode) strFn {
	switch n.op {
	case opConst:
		c := n.c.s
		return func(*record.Record) string { return c }
	case opField:
		if n.kind == fkStr {
			return n.field.str
		}
	case opCond:
		if n.kind == fkStr {
			c, a, b := boolOf(n.c3), strOf(n.a), strOf(n.b)
			return func(r *record.Record) string {
				if c(r) {
					return a(r)
				}
				return b(r)
			}
		}
	}
	return func(r *record.Record) string { return n.eval(r).s }
}

// doubleValue is fval.value of a double: NaN and infinities are null.
func doubleValue(f float64) record.Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return record.NullValue()
	}
	return record.DoubleValue(f)
}
