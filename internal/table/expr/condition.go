package expr

import (
	"slices"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Condition is a compiled ConditionExpression or FilterExpression. It is
// immutable and safe for concurrent use; [Condition.Eval] allocates nothing
// beyond what size() needs.
type Condition struct {
	kind Kind
	src  string
	root *cond
}

// Condition compiles a ConditionExpression.
func (c *Compiler) Condition(src string) (*Condition, error) {
	return c.condition(ConditionExpression, src)
}

// Filter compiles a FilterExpression: the same language as a condition,
// applied to each item a Query or Scan reads.
func (c *Compiler) Filter(src string) (*Condition, error) {
	return c.condition(FilterExpression, src)
}

func (c *Compiler) condition(kind Kind, src string) (*Condition, error) {
	p, err := newParser(kind, src)
	if err != nil {
		return nil, err
	}
	root, err := p.parseCondition()
	if err != nil {
		return nil, err
	}
	if err := c.compileCond(kind, root); err != nil {
		return nil, err
	}
	return &Condition{kind: kind, src: src, root: root}, nil
}

// CompileCondition compiles a lone ConditionExpression with its names and
// values, including the check that all of them are used.
func CompileCondition(src string, names map[string]string, values map[string]item.Value) (*Condition, error) {
	c, err := NewCompiler(names, values)
	if err != nil {
		return nil, err
	}
	cond, err := c.Condition(src)
	if err != nil {
		return nil, err
	}
	return cond, c.Done()
}

// String returns the expression as written.
func (c *Condition) String() string { return c.src }

// Eval evaluates the condition against an item; a nil item stands for a
// missing one. The semantics are DynamoDB's: a comparison involving a
// missing attribute, or values of different types, or types that do not
// order, is false rather than an error (except <>, which is true when the
// operands are not equal, missing ones included); size() of a type
// without a size is missing. The error is reserved for future operators:
// today Eval always returns a nil error.
func (c *Condition) Eval(it item.Item) (bool, error) {
	return evalCond(c.root, it), nil
}

// Attributes returns the top-level attribute names the condition reads,
// sorted and without repetition: the API layer refuses a FilterExpression
// of a Query that reads a key attribute.
func (c *Condition) Attributes() []string {
	var names []string
	var walk func(n *cond)
	var walkOp func(o *operand)
	walkOp = func(o *operand) {
		if o.kind == oPath && len(o.path) > 0 {
			names = append(names, o.path[0].Name)
		}
		for _, a := range o.args {
			walkOp(a)
		}
	}
	walk = func(n *cond) {
		if n == nil {
			return
		}
		walk(n.l)
		walk(n.r)
		for _, o := range n.ops {
			walkOp(o)
		}
	}
	walk(c.root)
	slices.Sort(names)
	return slices.Compact(names)
}

func evalCond(n *cond, it item.Item) bool {
	switch n.kind {
	case cOr:
		return evalCond(n.l, it) || evalCond(n.r, it)
	case cAnd:
		return evalCond(n.l, it) && evalCond(n.r, it)
	case cNot:
		return !evalCond(n.l, it)
	case cCmp:
		a, aok := n.ops[0].get(it)
		b, bok := n.ops[1].get(it)
		if n.op == tNE {
			// A missing operand is unequal to everything, even another
			// missing operand.
			return !aok || !bok || !item.Equal(a, b)
		}
		if !aok || !bok {
			return false
		}
		if n.op == tEQ {
			return item.Equal(a, b)
		}
		c, ok := item.Compare(a, b)
		if !ok {
			return false
		}
		switch n.op {
		case tLT:
			return c < 0
		case tLE:
			return c <= 0
		case tGT:
			return c > 0
		}
		return c >= 0
	case cBetween:
		a, ok := n.ops[0].get(it)
		if !ok {
			return false
		}
		lo, ok := n.ops[1].get(it)
		if !ok {
			return false
		}
		hi, ok := n.ops[2].get(it)
		if !ok {
			return false
		}
		c1, ok1 := item.Compare(a, lo)
		c2, ok2 := item.Compare(a, hi)
		return ok1 && ok2 && c1 >= 0 && c2 <= 0
	case cIn:
		a, ok := n.ops[0].get(it)
		if !ok {
			return false
		}
		for _, o := range n.ops[1:] {
			if b, ok := o.get(it); ok && item.Equal(a, b) {
				return true
			}
		}
		return false
	case cCall:
		switch n.fn {
		case fnAttributeExists:
			_, ok := n.ops[0].get(it)
			return ok
		case fnAttributeNotExists:
			_, ok := n.ops[0].get(it)
			return !ok
		case fnAttributeType:
			v, ok := n.ops[0].get(it)
			if !ok {
				return false
			}
			want, _ := item.ParseType(n.ops[1].val.S())
			return v.Type() == want
		case fnBeginsWith:
			a, aok := n.ops[0].get(it)
			b, bok := n.ops[1].get(it)
			return aok && bok && item.HasPrefix(a, b)
		case fnContains:
			a, aok := n.ops[0].get(it)
			b, bok := n.ops[1].get(it)
			return aok && bok && item.Contains(a, b)
		}
	}
	return false
}

// get evaluates a condition operand: the value at a path, a constant, or
// size() of either. It reports false when there is no value.
func (o *operand) get(it item.Item) (item.Value, bool) {
	switch o.kind {
	case oPath:
		return o.path.Get(it)
	case oValue:
		return o.val, true
	case oCall: // size
		v, ok := o.args[0].get(it)
		if !ok {
			return item.Value{}, false
		}
		n, ok := v.Len()
		if !ok {
			return item.Value{}, false
		}
		return item.IntValue(int64(n)), true
	}
	return item.Value{}, false
}
