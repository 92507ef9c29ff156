package expr

import (
	"slices"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Compiler compiles the expressions of one request against its
// ExpressionAttributeNames and ExpressionAttributeValues, and checks, once
// they are all compiled, that every name and value was used ([Compiler.Done]),
// as DynamoDB refuses unused entries across all the expressions of a
// request.
//
// A Compiler serves one request from one goroutine; the expressions it
// returns are immutable and safe for concurrent use.
type Compiler struct {
	names      map[string]string
	values     map[string]item.Value
	usedNames  map[string]struct{}
	usedValues map[string]struct{}
}

// NewCompiler checks the ExpressionAttributeNames and
// ExpressionAttributeValues of a request and returns a Compiler for its
// expressions. A nil map means the parameter was absent; an empty non-nil
// map is refused, as DynamoDB refuses an empty parameter. Names must look
// like #name and values like :value; names must not be empty.
func NewCompiler(names map[string]string, values map[string]item.Value) (*Compiler, error) {
	if names != nil && len(names) == 0 {
		return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeNames must not be empty"}
	}
	if values != nil && len(values) == 0 {
		return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeValues must not be empty"}
	}
	for _, k := range sortedKeys(names) {
		if !isPlaceholder(k, '#') {
			return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeNames contains invalid key: Syntax error; key: " + strconv.Quote(k)}
		}
		if names[k] == "" {
			return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeNames contains invalid value: Empty attribute name for key " + k}
		}
		if len(names[k]) > item.MaxNameLen {
			return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeNames contains invalid value: Attribute name is too large, must be less than 65536 bytes for key " + k}
		}
	}
	for _, k := range sortedKeys(values) {
		if !isPlaceholder(k, ':') {
			return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeValues contains invalid key: Syntax error; key: " + strconv.Quote(k)}
		}
		if !values[k].IsValid() {
			return nil, &ValidationError{Pos: -1, Msg: "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key " + k}
		}
	}
	return &Compiler{names: names, values: values}, nil
}

// isPlaceholder reports whether k is the sigil followed by 1 to 254
// letters, digits and underscores.
func isPlaceholder(k string, sigil byte) bool {
	if len(k) < 2 || len(k) > 255 || k[0] != sigil {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !isWordChar(k[i]) {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Done reports the ExpressionAttributeNames and ExpressionAttributeValues
// that none of the compiled expressions used, with DynamoDB's message.
// Call it after compiling every expression of the request.
func (c *Compiler) Done() error {
	var unused []string
	for _, k := range sortedKeys(c.names) {
		if _, ok := c.usedNames[k]; !ok {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		return &ValidationError{Pos: -1, Msg: "Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(unused, ", ") + "}"}
	}
	for _, k := range sortedKeys(c.values) {
		if _, ok := c.usedValues[k]; !ok {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		return &ValidationError{Pos: -1, Msg: "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(unused, ", ") + "}"}
	}
	return nil
}

// resolvePath turns a path as written into a Path: bare names checked
// against the reserved words, placeholders replaced.
func (c *Compiler) resolvePath(kind Kind, segs []rawSeg) (Path, error) {
	if len(segs) > item.MaxDepth {
		return nil, &ValidationError{Kind: kind, Pos: segs[0].pos, Msg: "The document path has too many nesting levels; nesting levels: " + strconv.Itoa(len(segs))}
	}
	p := make(Path, len(segs))
	for i, s := range segs {
		switch s.kind {
		case segIndex:
			p[i] = PathElem{Index: s.index}
		case segIdent:
			if isReserved(s.text) {
				return nil, &ValidationError{Kind: kind, Pos: s.pos, Token: s.text, Msg: "Attribute name is a reserved keyword; reserved keyword: " + s.text}
			}
			p[i] = PathElem{Name: s.text}
		case segRef:
			name, ok := c.names[s.text]
			if !ok {
				return nil, &ValidationError{Kind: kind, Pos: s.pos, Token: s.text, Msg: "An expression attribute name used in the document path is not defined; attribute name: " + s.text}
			}
			if c.usedNames == nil {
				c.usedNames = make(map[string]struct{}, len(c.names))
			}
			c.usedNames[s.text] = struct{}{}
			p[i] = PathElem{Name: name}
		}
	}
	return p, nil
}

// resolveValue looks up a :value placeholder.
func (c *Compiler) resolveValue(kind Kind, o *operand) error {
	v, ok := c.values[o.text]
	if !ok {
		return &ValidationError{Kind: kind, Pos: o.pos, Token: o.text, Msg: "An expression attribute value used in expression is not defined; attribute value: " + o.text}
	}
	if c.usedValues == nil {
		c.usedValues = make(map[string]struct{}, len(c.values))
	}
	c.usedValues[o.text] = struct{}{}
	o.val = v
	return nil
}

// fnKind is a known function.
type fnKind uint8

const (
	fnUnknown fnKind = iota
	fnAttributeExists
	fnAttributeNotExists
	fnAttributeType
	fnBeginsWith
	fnContains
	fnSize
	fnIfNotExists
	fnListAppend
)

// lookupFn finds a function by name; names are case-sensitive.
func lookupFn(name string) fnKind {
	switch name {
	case "attribute_exists":
		return fnAttributeExists
	case "attribute_not_exists":
		return fnAttributeNotExists
	case "attribute_type":
		return fnAttributeType
	case "begins_with":
		return fnBeginsWith
	case "contains":
		return fnContains
	case "size":
		return fnSize
	case "if_not_exists":
		return fnIfNotExists
	case "list_append":
		return fnListAppend
	}
	return fnUnknown
}

// fnArity is the operand count of each function.
var fnArity = [...]int{
	fnAttributeExists: 1, fnAttributeNotExists: 1, fnAttributeType: 2, fnBeginsWith: 2,
	fnContains: 2, fnSize: 1, fnIfNotExists: 2, fnListAppend: 2,
}

// checkCall resolves the function of a call and checks its operand count.
// allowed says which functions may stand where the call stands.
func checkCall(kind Kind, pos int, name string, nargs int, allowed ...fnKind) (fnKind, error) {
	fn := lookupFn(name)
	if fn == fnUnknown {
		return fn, &ValidationError{Kind: kind, Pos: pos, Token: name, Msg: "Invalid function name; function: " + name}
	}
	if !slices.Contains(allowed, fn) {
		return fn, &ValidationError{Kind: kind, Pos: pos, Token: name, Msg: "The function is not allowed to be used this way in an expression; function: " + name}
	}
	if nargs != fnArity[fn] {
		return fn, &ValidationError{Kind: kind, Pos: pos, Token: name, Msg: "Incorrect number of operands for operator or function; operator or function: " + name + ", number of operands: " + strconv.Itoa(nargs)}
	}
	return fn, nil
}

func errOperandType(kind Kind, pos int, fn string, t item.Type) error {
	return &ValidationError{Kind: kind, Pos: pos, Msg: "Incorrect operand type for operator or function; operator or function: " + fn + ", operand type: " + t.String()}
}

func errNeedsPath(kind Kind, pos int, fn string) error {
	return &ValidationError{Kind: kind, Pos: pos, Msg: "Operator or function requires a document path; operator or function: " + fn}
}

// staticType is the type of an operand known before evaluation: the type of
// a constant, N for size(); Invalid for a path.
func (o *operand) staticType() item.Type {
	switch o.kind {
	case oValue:
		return o.val.Type()
	case oCall:
		if o.fn == fnSize {
			return item.N
		}
	}
	return item.Invalid
}

// condOperand compiles an operand of a condition: a path, a value, or
// size() of one.
func (c *Compiler) condOperand(kind Kind, o *operand) error {
	switch o.kind {
	case oPath:
		p, err := c.resolvePath(kind, o.segs)
		o.path = p
		return err
	case oValue:
		return c.resolveValue(kind, o)
	case oCall:
		fn, err := checkCall(kind, o.pos, o.text, len(o.args), fnSize)
		if err != nil {
			return err
		}
		o.fn = fn
		a := o.args[0]
		if err := c.condOperand(kind, a); err != nil {
			return err
		}
		if t := a.staticType(); t != item.Invalid {
			if _, ok := sizeOf(t); !ok {
				return errOperandType(kind, a.pos, "size", t)
			}
		}
		return nil
	}
	return &ValidationError{Kind: kind, Pos: o.pos, Msg: "unexpected operand"}
}

// sizeOf reports whether size() is defined for type t.
func sizeOf(t item.Type) (item.Type, bool) {
	switch t {
	case item.S, item.B, item.L, item.M, item.SS, item.NS, item.BS:
		return t, true
	}
	return t, false
}

// orderable reports whether values of type t can be ordered (<, BETWEEN).
func orderable(t item.Type) bool { return t == item.S || t == item.N || t == item.B }

// avText renders a value as DynamoDB's messages do: {N:2}.
func avText(v item.Value) string {
	var s string
	switch v.Type() {
	case item.S:
		s = v.S()
	case item.N:
		s = v.N().String()
	default:
		s = strings.Trim(v.String(), "{}")
		s = s[strings.IndexByte(s, ':')+1:]
	}
	return "{" + v.Type().String() + ":" + s + "}"
}

var cmpNames = map[tokKind]string{tEQ: "=", tNE: "<>", tLT: "<", tLE: "<=", tGT: ">", tGE: ">="}

// compileCond resolves a condition tree in place and checks what DynamoDB
// checks before evaluating: function names and operand counts, and the
// types of constant operands.
func (c *Compiler) compileCond(kind Kind, n *cond) error {
	switch n.kind {
	case cAnd, cOr:
		if err := c.compileCond(kind, n.l); err != nil {
			return err
		}
		return c.compileCond(kind, n.r)
	case cNot:
		return c.compileCond(kind, n.l)
	case cCmp:
		for _, o := range n.ops {
			if err := c.condOperand(kind, o); err != nil {
				return err
			}
		}
		if n.op != tEQ && n.op != tNE {
			for _, o := range n.ops {
				if t := o.staticType(); t != item.Invalid && !orderable(t) {
					return errOperandType(kind, o.pos, cmpNames[n.op], t)
				}
			}
		}
		return nil
	case cBetween:
		for _, o := range n.ops {
			if err := c.condOperand(kind, o); err != nil {
				return err
			}
			if t := o.staticType(); t != item.Invalid && !orderable(t) {
				return errOperandType(kind, o.pos, "BETWEEN", t)
			}
		}
		lo, hi := n.ops[1], n.ops[2]
		if lo.kind == oValue && hi.kind == oValue {
			return checkBounds(kind, n.pos, lo.val, hi.val)
		}
		return nil
	case cIn:
		for _, o := range n.ops {
			if err := c.condOperand(kind, o); err != nil {
				return err
			}
		}
		return nil
	case cCall:
		fn, err := checkCall(kind, n.pos, n.name, len(n.ops),
			fnAttributeExists, fnAttributeNotExists, fnAttributeType, fnBeginsWith, fnContains)
		if err != nil {
			return err
		}
		n.fn = fn
		for _, o := range n.ops {
			if err := c.condOperand(kind, o); err != nil {
				return err
			}
		}
		switch fn {
		case fnAttributeExists, fnAttributeNotExists:
			if n.ops[0].kind != oPath {
				return errNeedsPath(kind, n.ops[0].pos, n.name)
			}
		case fnAttributeType:
			t := n.ops[1]
			if t.kind != oValue {
				return &ValidationError{Kind: kind, Pos: t.pos, Msg: "Operator or function requires an expression attribute value; operator or function: attribute_type"}
			}
			if t.val.Type() != item.S {
				return errOperandType(kind, t.pos, "attribute_type", t.val.Type())
			}
			if _, ok := item.ParseType(t.val.S()); !ok {
				return &ValidationError{Kind: kind, Pos: t.pos, Msg: "Invalid attribute type name found; type: " + t.val.S() + ", valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"}
			}
		case fnBeginsWith:
			for _, o := range n.ops {
				if t := o.staticType(); t != item.Invalid && t != item.S && t != item.B {
					return errOperandType(kind, o.pos, "begins_with", t)
				}
			}
		}
		return nil
	}
	return nil
}

// checkBounds checks the constant bounds of BETWEEN.
func checkBounds(kind Kind, pos int, lo, hi item.Value) error {
	if lo.Type() != hi.Type() {
		return &ValidationError{Kind: kind, Pos: pos, Msg: "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: " + avText(lo) + ", upper bound operand: AttributeValue: " + avText(hi)}
	}
	if c, ok := item.Compare(lo, hi); ok && c > 0 {
		return &ValidationError{Kind: kind, Pos: pos, Msg: "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: " + avText(lo) + ", upper bound operand: AttributeValue: " + avText(hi)}
	}
	return nil
}
