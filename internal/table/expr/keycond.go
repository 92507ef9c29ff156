package expr

import (
	"github.com/pricestream/pricestream/internal/table/item"
)

// SortOp is the condition a KeyConditionExpression puts on the sort key.
type SortOp uint8

// The sort key conditions DynamoDB allows.
const (
	SortAny        SortOp = iota // no condition on the sort key
	SortEQ                       // sk = v
	SortLT                       // sk < v
	SortLE                       // sk <= v
	SortGT                       // sk > v
	SortGE                       // sk >= v
	SortBetween                  // sk BETWEEN v AND hi
	SortBeginsWith               // begins_with(sk, v)
)

// KeyCondition is a compiled KeyConditionExpression: the partition key
// value and the range of sort keys a Query reads. It is immutable (do not
// change its fields) and safe for concurrent use.
type KeyCondition struct {
	src    string
	schema item.KeySchema

	// Partition is the partition key value (the condition is always an
	// equality).
	Partition item.Value
	// SortOp is the sort key condition; Sort is its operand, and SortHi the
	// upper bound of BETWEEN.
	SortOp SortOp
	Sort   item.Value
	SortHi item.Value
}

// KeyCondition compiles a KeyConditionExpression for a table (or index)
// with key schema ks. The expression must name the partition key with =
// and may add, with AND, one condition on the sort key: = < <= > >=,
// BETWEEN, or begins_with for S and B. Values must have the key's type.
// Errors follow DynamoDB's messages.
func (c *Compiler) KeyCondition(src string, ks item.KeySchema) (*KeyCondition, error) {
	const kind = KeyConditionExpression
	p, err := newParser(kind, src)
	if err != nil {
		return nil, err
	}
	root, err := p.parseCondition()
	if err != nil {
		return nil, err
	}
	// DynamoDB parses a key condition as a condition, then accepts only
	// one or two primitive conditions joined by AND.
	var prims []*cond
	var flatten func(n *cond) error
	flatten = func(n *cond) error {
		switch n.kind {
		case cAnd:
			if err := flatten(n.l); err != nil {
				return err
			}
			return flatten(n.r)
		case cOr:
			return p.errAt(n.pos, "Invalid operator used in KeyConditionExpression: OR")
		case cNot:
			return p.errAt(n.pos, "Invalid operator used in KeyConditionExpression: NOT")
		}
		prims = append(prims, n)
		return nil
	}
	if err := flatten(root); err != nil {
		return nil, err
	}
	if len(prims) > 2 {
		return nil, p.errAt(prims[2].pos, "KeyConditionExpressions must only contain one condition per key")
	}
	kc := &KeyCondition{src: src, schema: ks}
	var havePartition, haveSort bool
	for _, n := range prims {
		name, op, vals, err := c.keyPrimitive(n, ks)
		if err != nil {
			return nil, err
		}
		switch {
		case name == ks.Partition.Name:
			if havePartition {
				return nil, p.errAt(n.pos, "KeyConditionExpressions must only contain one condition per key")
			}
			if op != SortEQ {
				return nil, p.errAt(n.pos, "Query key condition not supported")
			}
			if err := checkKeyType(ks.Partition, vals[0]); err != nil {
				return nil, err
			}
			havePartition = true
			kc.Partition = vals[0]
		case ks.HasSort() && name == ks.Sort.Name:
			if haveSort {
				return nil, p.errAt(n.pos, "KeyConditionExpressions must only contain one condition per key")
			}
			for _, v := range vals {
				if err := checkKeyType(ks.Sort, v); err != nil {
					return nil, err
				}
			}
			if op == SortBeginsWith && ks.Sort.Type == item.N {
				return nil, errOperandType(kind, n.pos, "begins_with", item.N)
			}
			if op == SortBetween {
				if err := checkBounds(kind, n.pos, vals[0], vals[1]); err != nil {
					return nil, err
				}
				kc.SortHi = vals[1]
			}
			haveSort = true
			kc.SortOp, kc.Sort = op, vals[0]
		default:
			return nil, &ValidationError{Kind: kind, Pos: n.pos, Runtime: true, Msg: "Query condition missed key schema element: " + missingKey(ks, havePartition)}
		}
	}
	if !havePartition {
		return nil, &ValidationError{Kind: kind, Pos: -1, Runtime: true, Msg: "Query condition missed key schema element: " + ks.Partition.Name}
	}
	return kc, nil
}

func missingKey(ks item.KeySchema, havePartition bool) string {
	if havePartition && ks.HasSort() {
		return ks.Sort.Name
	}
	return ks.Partition.Name
}

func checkKeyType(a item.KeyAttribute, v item.Value) error {
	if v.Type() != a.Type {
		return &ValidationError{Kind: KeyConditionExpression, Pos: -1, Runtime: true, Msg: "One or more parameter values were invalid: Condition parameter type does not match schema type"}
	}
	return nil
}

// keyPrimitive compiles one primitive key condition and returns the key
// attribute it names, the operator (from the attribute's side) and the
// constant operands.
func (c *Compiler) keyPrimitive(n *cond, ks item.KeySchema) (string, SortOp, []item.Value, error) {
	const kind = KeyConditionExpression
	bad := func(pos int, msg string) (string, SortOp, []item.Value, error) {
		return "", 0, nil, &ValidationError{Kind: kind, Pos: pos, Msg: msg}
	}
	// Operands: one path to a top-level attribute, the rest constants.
	operands := func(ops []*operand) (string, int, []item.Value, error) {
		name, at := "", -1
		var vals []item.Value
		for i, o := range ops {
			switch o.kind {
			case oPath:
				if at >= 0 {
					return "", 0, nil, &ValidationError{Kind: kind, Pos: o.pos, Msg: "Query key condition not supported"}
				}
				pth, err := c.resolvePath(kind, o.segs)
				if err != nil {
					return "", 0, nil, err
				}
				if len(pth) != 1 {
					return "", 0, nil, &ValidationError{Kind: kind, Pos: o.pos, Msg: "KeyConditionExpressions cannot have conditions on nested attributes"}
				}
				name, at = pth[0].Name, i
			case oValue:
				if err := c.resolveValue(kind, o); err != nil {
					return "", 0, nil, err
				}
				vals = append(vals, o.val)
			case oCall:
				return "", 0, nil, &ValidationError{Kind: kind, Pos: o.pos, Msg: "Invalid operator used in KeyConditionExpression: " + o.text}
			}
		}
		if at < 0 {
			return "", 0, nil, &ValidationError{Kind: kind, Pos: ops[0].pos, Msg: "Query key condition not supported"}
		}
		return name, at, vals, nil
	}
	switch n.kind {
	case cCmp:
		if n.op == tNE {
			return bad(n.pos, "Invalid operator used in KeyConditionExpression: <>")
		}
		name, at, vals, err := operands(n.ops)
		if err != nil {
			return "", 0, nil, err
		}
		op := map[tokKind]SortOp{tEQ: SortEQ, tLT: SortLT, tLE: SortLE, tGT: SortGT, tGE: SortGE}[n.op]
		if at == 1 { // :v < sk means sk > :v
			op = map[SortOp]SortOp{SortEQ: SortEQ, SortLT: SortGT, SortLE: SortGE, SortGT: SortLT, SortGE: SortLE}[op]
		}
		return name, op, vals, nil
	case cBetween:
		name, at, vals, err := operands(n.ops)
		if err != nil {
			return "", 0, nil, err
		}
		if at != 0 {
			return bad(n.pos, "Query key condition not supported")
		}
		return name, SortBetween, vals, nil
	case cIn:
		return bad(n.pos, "Invalid operator used in KeyConditionExpression: IN")
	case cCall:
		if lookupFn(n.name) == fnUnknown {
			return bad(n.pos, "Invalid function name; function: "+n.name)
		}
		if n.name != "begins_with" {
			return bad(n.pos, "Invalid operator used in KeyConditionExpression: "+n.name)
		}
		if len(n.ops) != 2 {
			return bad(n.pos, "Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: "+itoa(len(n.ops)))
		}
		name, at, vals, err := operands(n.ops)
		if err != nil {
			return "", 0, nil, err
		}
		if at != 0 {
			return bad(n.pos, "Query key condition not supported")
		}
		return name, SortBeginsWith, vals, nil
	}
	return bad(n.pos, "Query key condition not supported")
}

// CompileKeyCondition compiles a lone KeyConditionExpression with its names
// and values, including the check that all of them are used.
func CompileKeyCondition(src string, ks item.KeySchema, names map[string]string, values map[string]item.Value) (*KeyCondition, error) {
	c, err := NewCompiler(names, values)
	if err != nil {
		return nil, err
	}
	kc, err := c.KeyCondition(src, ks)
	if err != nil {
		return nil, err
	}
	return kc, c.Done()
}

// String returns the expression as written.
func (k *KeyCondition) String() string { return k.src }

// MatchSort reports whether a sort key value satisfies the sort key
// condition.
func (k *KeyCondition) MatchSort(v item.Value) bool {
	if k.SortOp == SortAny {
		return true
	}
	if k.SortOp == SortBeginsWith {
		return item.HasPrefix(v, k.Sort)
	}
	c, ok := item.Compare(v, k.Sort)
	if !ok {
		return false
	}
	switch k.SortOp {
	case SortEQ:
		return c == 0
	case SortLT:
		return c < 0
	case SortLE:
		return c <= 0
	case SortGT:
		return c > 0
	case SortGE:
		return c >= 0
	case SortBetween:
		c2, ok := item.Compare(v, k.SortHi)
		return ok && c >= 0 && c2 <= 0
	}
	return false
}

// Match reports whether an item's key satisfies the condition.
func (k *KeyCondition) Match(it item.Item) bool {
	if !item.Equal(it[k.schema.Partition.Name], k.Partition) {
		return false
	}
	if !k.schema.HasSort() {
		return true
	}
	return k.MatchSort(it[k.schema.Sort.Name])
}

// Bounds returns the range [start, end) of ordered key encodings
// (item.Key.AppendOrdered) that holds exactly the keys the condition
// selects, for a scan of an index kept in that order. end is nil when the
// range is unbounded above.
func (k *KeyCondition) Bounds() (start, end []byte) {
	prefix := item.AppendOrdered(nil, k.Partition)
	with := func(v item.Value) []byte { return item.AppendOrdered(append([]byte(nil), prefix...), v) }
	switch k.SortOp {
	case SortEQ:
		b := with(k.Sort)
		return b, prefixEnd(b)
	case SortLT:
		return prefix, with(k.Sort)
	case SortLE:
		return prefix, prefixEnd(with(k.Sort))
	case SortGT:
		return prefixEnd(with(k.Sort)), prefixEnd(prefix)
	case SortGE:
		return with(k.Sort), prefixEnd(prefix)
	case SortBetween:
		return with(k.Sort), prefixEnd(with(k.SortHi))
	case SortBeginsWith:
		// The ordered encoding of a string or binary starts with its
		// escaped bytes, so a prefix of the value is a prefix of the
		// encoding, once its terminator is dropped.
		enc := with(k.Sort)
		b := enc[:len(enc)-2]
		return b, prefixEnd(b)
	}
	return prefix, prefixEnd(prefix)
}

// prefixEnd returns the smallest byte string greater than every string
// that starts with b, or nil if there is none.
func prefixEnd(b []byte) []byte {
	end := append([]byte(nil), b...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
