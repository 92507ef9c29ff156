package expr

import (
	"strconv"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Limits of DynamoDB expressions (developer guide, "Service, account, and
// table quotas": expression parameters).
const (
	// MaxExpressionLen is the longest expression string, in bytes.
	MaxExpressionLen = 4096
	// MaxOperators is the most operators one expression may use (AND, OR,
	// NOT, comparators, BETWEEN, IN, + and -; in an update expression the
	// functions count too).
	MaxOperators = 300
	// MaxInOperands is the most values the right-hand side of IN may list.
	MaxInOperands = 100
	// maxNesting bounds the recursion of the parser. DynamoDB has no such
	// limit, but its 300-operator limit makes deeper nesting invalid
	// anyway, except for nested function calls, which fail for other
	// reasons.
	maxNesting = 400
)

// The parse tree. Nodes hold what the source says (placeholders, bare
// names); compiling resolves them in place against the request's names and
// values, so the tree is also the compiled form.

type segKind uint8

const (
	segIdent segKind = iota // bare name, checked against reserved words
	segRef                  // #name placeholder
	segIndex                // [n]
)

// rawSeg is one step of a path as written.
type rawSeg struct {
	kind  segKind
	text  string
	index int
	pos   int
}

type operandKind uint8

const (
	oPath  operandKind = iota // a document path
	oValue                    // a :value placeholder
	oCall                     // a function call
	oArith                    // x + y or x - y (SET values only)
)

// operand is a value in an expression: a path, a value placeholder, a
// function call or (in SET) an addition or subtraction.
type operand struct {
	kind operandKind
	pos  int
	text string // placeholder or function name
	segs []rawSeg

	// Resolved by compiling:
	path  Path
	val   item.Value
	fn    fnKind
	args  []*operand // call arguments; for oArith the two operands
	minus bool       // oArith: subtraction
}

type condKind uint8

const (
	cOr condKind = iota
	cAnd
	cNot
	cCmp     // ops[0] op ops[1]
	cBetween // ops[0] BETWEEN ops[1] AND ops[2]
	cIn      // ops[0] IN (ops[1:]...)
	cCall    // a boolean function: attribute_exists(ops[0]) ...
)

// cond is a node of a condition.
type cond struct {
	kind  condKind
	pos   int
	op    tokKind // cCmp: the comparator
	l, r  *cond   // cAnd, cOr; cNot uses l
	ops   []*operand
	fn    fnKind // cCall
	name  string // cCall: the function name as written
	paren bool   // the node was written in parentheses
}

type actionKind uint8

const (
	aSet actionKind = iota
	aRemove
	aAdd
	aDelete
)

var actionNames = [...]string{aSet: "SET", aRemove: "REMOVE", aAdd: "ADD", aDelete: "DELETE"}

// action is one action of an update expression.
type action struct {
	kind  actionKind
	pos   int
	segs  []rawSeg
	path  Path
	value *operand // SET: the new value; ADD, DELETE: the :value operand
	slot  int      // SET: where Apply keeps the new value
}

// parser is a recursive-descent parser over the tokens of one expression.
type parser struct {
	kind  Kind
	src   string
	toks  []token
	i     int
	depth int
	ops   int
}

func newParser(kind Kind, src string) (*parser, error) {
	if len(src) > MaxExpressionLen {
		return nil, &ValidationError{Kind: kind, Pos: -1, Msg: "Expression size has exceeded the maximum allowed size; expression size: " + strconv.Itoa(len(src))}
	}
	p := &parser{kind: kind, src: src}
	var buf [32]token
	p.toks = lex(src, buf[:0])
	if len(p.toks) == 1 {
		return nil, &ValidationError{Kind: kind, Pos: -1, Msg: "The expression can not be empty;"}
	}
	return p, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// syntaxErr reports a syntax error at token number n (an index into toks),
// with the text around it as DynamoDB shows it: from the token before to
// the token after.
func (p *parser) syntaxErr(n int) error {
	t := p.toks[n]
	from := t.pos
	if n > 0 {
		from = p.toks[n-1].pos
	}
	to := t.end
	if n+1 < len(p.toks) && t.kind != tEOF {
		to = p.toks[n+1].end
	}
	if t.kind == tEOF {
		to = len(p.src)
	}
	return &ValidationError{Kind: p.kind, Pos: t.pos, Token: t.text, Msg: msgSyntax, near: p.src[from:to]}
}

// errHere reports a syntax error at the next token.
func (p *parser) errHere() error { return p.syntaxErr(p.i) }

// errAt reports a validation (not syntax) error at a position.
func (p *parser) errAt(pos int, msg string) error {
	return &ValidationError{Kind: p.kind, Pos: pos, Msg: msg}
}

func (p *parser) expect(k tokKind) (token, error) {
	if p.peek().kind != k {
		return token{}, p.errHere()
	}
	return p.next(), nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return p.errAt(p.peek().pos, "The expression is nested too deeply")
	}
	return nil
}

func (p *parser) countOp(pos int) error {
	p.ops++
	if p.ops > MaxOperators {
		return p.errAt(pos, "The expression contains too many operators; operator count: "+strconv.Itoa(p.ops))
	}
	return nil
}

// parseCondition parses a whole condition expression.
func (p *parser) parseCondition() (*cond, error) {
	c, err := p.orExpr()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.errHere()
	}
	return c, nil
}

// Precedence, loosest first: OR, AND, NOT, then the primitive conditions
// (comparisons, BETWEEN, IN, functions), as the developer guide lists it
// ("Comparison operator and function reference": Precedence in
// conditions).
func (p *parser) orExpr() (*cond, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for isKeyword(p.peek(), "OR") {
		t := p.next()
		if err := p.countOp(t.pos); err != nil {
			return nil, err
		}
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &cond{kind: cOr, pos: t.pos, l: l, r: r}
	}
	return l, nil
}

func (p *parser) andExpr() (*cond, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for isKeyword(p.peek(), "AND") {
		t := p.next()
		if err := p.countOp(t.pos); err != nil {
			return nil, err
		}
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &cond{kind: cAnd, pos: t.pos, l: l, r: r}
	}
	return l, nil
}

func (p *parser) notExpr() (*cond, error) {
	if !isKeyword(p.peek(), "NOT") {
		return p.primary()
	}
	t := p.next()
	if err := p.countOp(t.pos); err != nil {
		return nil, err
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	c, err := p.notExpr()
	p.depth--
	if err != nil {
		return nil, err
	}
	return &cond{kind: cNot, pos: t.pos, l: c}, nil
}

func (p *parser) primary() (*cond, error) {
	if p.peek().kind == tLParen {
		open := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		c, err := p.orExpr()
		p.depth--
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		if c.paren {
			// ((a < b)): DynamoDB refuses a second pair around the same
			// condition.
			return nil, p.errAt(open.pos, "The expression has redundant parentheses;")
		}
		c.paren = true
		return c, nil
	}
	a, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind >= tEQ && t.kind <= tGE:
		p.next()
		if err := p.countOp(t.pos); err != nil {
			return nil, err
		}
		b, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &cond{kind: cCmp, pos: t.pos, op: t.kind, ops: []*operand{a, b}}, nil
	case isKeyword(t, "BETWEEN"):
		p.next()
		if err := p.countOp(t.pos); err != nil {
			return nil, err
		}
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if !isKeyword(p.peek(), "AND") {
			return nil, p.errHere()
		}
		p.next()
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		return &cond{kind: cBetween, pos: t.pos, ops: []*operand{a, lo, hi}}, nil
	case isKeyword(t, "IN"):
		p.next()
		if err := p.countOp(t.pos); err != nil {
			return nil, err
		}
		if _, err := p.expect(tLParen); err != nil {
			return nil, err
		}
		ops := []*operand{a}
		for {
			o, err := p.operand()
			if err != nil {
				return nil, err
			}
			ops = append(ops, o)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		if len(ops)-1 > MaxInOperands {
			return nil, p.errAt(t.pos, "The expression contains too many operands; operator: IN, number of operands: "+strconv.Itoa(len(ops)-1)+", limit: "+strconv.Itoa(MaxInOperands))
		}
		return &cond{kind: cIn, pos: t.pos, ops: ops}, nil
	}
	if a.kind == oCall {
		// A function call alone is a condition: attribute_exists(a).
		return &cond{kind: cCall, pos: a.pos, name: a.text, ops: a.args}, nil
	}
	// A path or value alone is no condition.
	return nil, p.errHere()
}

// operand parses a path, a :value or a function call.
func (p *parser) operand() (*operand, error) {
	t := p.peek()
	switch t.kind {
	case tValue:
		p.next()
		return &operand{kind: oValue, pos: t.pos, text: t.text}, nil
	case tName:
		return p.pathOperand()
	case tIdent:
		if p.peekAt(1).kind == tLParen {
			return p.call()
		}
		for _, kw := range [...]string{"AND", "OR", "NOT", "BETWEEN", "IN"} {
			if isKeyword(t, kw) {
				return nil, p.errHere()
			}
		}
		return p.pathOperand()
	}
	return nil, p.errHere()
}

// call parses name(operand, ...). Any name parses; compiling checks it.
func (p *parser) call() (*operand, error) {
	name := p.next()
	p.next() // (
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	o := &operand{kind: oCall, pos: name.pos, text: name.text}
	if p.peek().kind == tRParen {
		p.next()
		return o, nil
	}
	for {
		a, err := p.operand()
		if err != nil {
			return nil, err
		}
		o.args = append(o.args, a)
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	return o, nil
}

func (p *parser) pathOperand() (*operand, error) {
	pos := p.peek().pos
	segs, err := p.path()
	if err != nil {
		return nil, err
	}
	return &operand{kind: oPath, pos: pos, segs: segs}, nil
}

// path parses a document path: name { .name | [index] }, where a name is a
// bare word or a #placeholder.
func (p *parser) path() ([]rawSeg, error) {
	var segs []rawSeg
	name := func() error {
		t := p.peek()
		switch t.kind {
		case tIdent:
			segs = append(segs, rawSeg{kind: segIdent, text: t.text, pos: t.pos})
		case tName:
			segs = append(segs, rawSeg{kind: segRef, text: t.text, pos: t.pos})
		default:
			return p.errHere()
		}
		p.next()
		return nil
	}
	if err := name(); err != nil {
		return nil, err
	}
	for {
		switch p.peek().kind {
		case tDot:
			p.next()
			if err := name(); err != nil {
				return nil, err
			}
		case tLBrack:
			p.next()
			t := p.peek()
			if t.kind != tNumber {
				return nil, p.errHere()
			}
			p.next()
			n, err := strconv.Atoi(t.text)
			if err != nil || n > 1<<31-1 {
				return nil, p.errAt(t.pos, "List index is not within the allowable range; index: ["+t.text+"]")
			}
			segs = append(segs, rawSeg{kind: segIndex, index: n, pos: t.pos})
			if _, err := p.expect(tRBrack); err != nil {
				return nil, err
			}
		default:
			return segs, nil
		}
	}
}

// parseUpdate parses an update expression: clauses SET, REMOVE, ADD and
// DELETE, in any order, each at most once.
func (p *parser) parseUpdate() ([]*action, error) {
	var actions []*action
	var seen [4]bool
	for p.peek().kind != tEOF {
		t := p.next()
		kind := aSet
		switch {
		case isKeyword(t, "SET"):
		case isKeyword(t, "REMOVE"):
			kind = aRemove
		case isKeyword(t, "ADD"):
			kind = aAdd
		case isKeyword(t, "DELETE"):
			kind = aDelete
		default:
			return nil, p.syntaxErr(p.i - 1)
		}
		if seen[kind] {
			return nil, p.errAt(t.pos, `The "`+actionNames[kind]+`" section can only be used once in an update expression;`)
		}
		seen[kind] = true
		for {
			a, err := p.action(kind)
			if err != nil {
				return nil, err
			}
			actions = append(actions, a)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
		if k := p.peek().kind; k != tEOF && k != tIdent {
			return nil, p.errHere()
		}
	}
	return actions, nil
}

func (p *parser) action(kind actionKind) (*action, error) {
	pos := p.peek().pos
	segs, err := p.path()
	if err != nil {
		return nil, err
	}
	a := &action{kind: kind, pos: pos, segs: segs}
	switch kind {
	case aSet:
		if _, err := p.expect(tEQ); err != nil {
			return nil, err
		}
		if a.value, err = p.setValue(); err != nil {
			return nil, err
		}
	case aAdd, aDelete:
		// The operand must be a :value placeholder.
		t, err := p.expect(tValue)
		if err != nil {
			return nil, err
		}
		a.value = &operand{kind: oValue, pos: t.pos, text: t.text}
	}
	return a, nil
}

// setValue parses operand [ (+|-) operand ]: DynamoDB allows one addition
// or subtraction, outside function arguments.
func (p *parser) setValue() (*operand, error) {
	x, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tPlus && t.kind != tMinus {
		return x, nil
	}
	p.next()
	if err := p.countOp(t.pos); err != nil {
		return nil, err
	}
	y, err := p.operand()
	if err != nil {
		return nil, err
	}
	return &operand{kind: oArith, pos: t.pos, text: t.text, args: []*operand{x, y}, minus: t.kind == tMinus}, nil
}

// parseProjection parses path { , path }.
func (p *parser) parseProjection() ([][]rawSeg, []int, error) {
	var paths [][]rawSeg
	var positions []int
	for {
		positions = append(positions, p.peek().pos)
		segs, err := p.path()
		if err != nil {
			return nil, nil, err
		}
		paths = append(paths, segs)
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if p.peek().kind != tEOF {
		return nil, nil, p.errHere()
	}
	return paths, positions, nil
}
