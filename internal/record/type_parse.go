package record

import (
	"fmt"
	"strconv"
	"strings"
)

// TypeSyntaxError is the error of a type text that [ParseType] cannot read.
type TypeSyntaxError struct {
	Text   string // the input
	Offset int    // byte offset of the problem
	Msg    string
}

// Error describes the problem with its offset.
func (e *TypeSyntaxError) Error() string {
	return fmt.Sprintf("record: type %q: offset %d: %s", e.Text, e.Offset, e.Msg)
}

// maxTypeDepth bounds the nesting of parsed types.
const maxTypeDepth = 64

// ParseType reads a type in Glue/Hive syntax, case-insensitively:
//
//	string | int | long | double | boolean | binary | null
//	decimal | decimal(p) | decimal(p,s)
//	timestamp | timestamp('format') | date | date('format')
//	array<T> | map<K,V> | choice<T,T…>
//	struct<name:T [not null] [comment 'text'], …>
//
// It also takes the Hive and SQL aliases bigint (long), integer, smallint and
// tinyint (int), float and real (double), bool (boolean), char(n),
// varchar(n) and text (string), bytes (binary) and void (null), and
// "struct<a int>" with a space for a colon. A field name that is not an
// identifier goes in backquotes (a doubled backquote inside for one). [Type.String]
// prints what ParseType reads back to an equal type.
func ParseType(s string) (*Type, error) {
	p := typeParser{src: s}
	t := p.parse(0)
	if p.err == nil {
		p.skipSpace()
		if p.pos < len(p.src) {
			p.fail("unexpected text after the type")
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return t, nil
}

// MustParseType is [ParseType] for types known to be valid; it panics on an
// error.
func MustParseType(s string) *Type {
	t, err := ParseType(s)
	if err != nil {
		panic(err)
	}
	return t
}

type typeParser struct {
	src string
	pos int
	err error
}

func (p *typeParser) fail(msg string) {
	if p.err == nil {
		p.err = &TypeSyntaxError{Text: p.src, Offset: p.pos, Msg: msg}
	}
}

func (p *typeParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *typeParser) peek() byte {
	p.skipSpace()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *typeParser) expect(c byte) bool {
	if p.peek() != c {
		p.fail(fmt.Sprintf("expected %q", c))
		return false
	}
	p.pos++
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameByte(c byte) bool {
	return isWordByte(c) || c == '$' || c == '@' || c == '-' || c == '.'
}

func (p *typeParser) word() string {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && isWordByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *typeParser) int() int {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	n, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil || p.pos-start > 4 {
		p.pos = start
		p.fail("expected a number")
		return 0
	}
	return n
}

func (p *typeParser) quoted() string {
	p.skipSpace()
	if p.pos >= len(p.src) || (p.src[p.pos] != '\'' && p.src[p.pos] != '"') {
		p.fail("expected a quoted string")
		return ""
	}
	q := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\' && p.pos+1 < len(p.src):
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case c == q:
			p.pos++
			return b.String()
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	p.fail("unterminated quoted string")
	return ""
}

func (p *typeParser) parse(depth int) *Type {
	if depth > maxTypeDepth {
		p.fail("type nested too deeply")
		return nil
	}
	start := p.pos
	w := strings.ToLower(p.word())
	if w == "" {
		p.fail("expected a type")
		return nil
	}
	switch w {
	case "string", "text":
		return TypeString
	case "char", "varchar":
		if p.peek() == '(' {
			p.pos++
			p.int()
			p.expect(')')
		}
		return TypeString
	case "int", "integer", "smallint", "tinyint":
		return TypeInt
	case "long", "bigint":
		return TypeLong
	case "double", "float", "real":
		return TypeDouble
	case "boolean", "bool":
		return TypeBool
	case "binary", "bytes":
		return TypeBinary
	case "null", "void":
		return TypeNull
	case "decimal", "numeric":
		if p.peek() != '(' {
			return TypeDecimal
		}
		p.pos++
		prec := p.int()
		scale := 0
		if p.peek() == ',' {
			p.pos++
			scale = p.int()
		}
		p.expect(')')
		if p.err == nil && (prec < 1 || prec > MaxDecimalPrecision || scale > prec) {
			p.pos = start
			p.fail("decimal precision must be 1..38 and scale 0..precision")
			return nil
		}
		return DecimalType(prec, scale)
	case "timestamp", "date":
		k := KindTimestamp
		if w == "date" {
			k = KindDate
		}
		if p.peek() != '(' {
			return Scalar(k)
		}
		p.pos++
		at := p.pos
		spec := p.quoted()
		p.expect(')')
		if p.err != nil {
			return nil
		}
		f, err := ParseTimeFormat(spec)
		if err != nil {
			p.pos = at
			p.fail(err.Error())
			return nil
		}
		return &Type{Kind: k, Format: f}
	case "array":
		p.expect('<')
		elem := p.parse(depth + 1)
		p.expect('>')
		if p.err != nil {
			return nil
		}
		return ArrayType(elem)
	case "map":
		p.expect('<')
		key := p.parse(depth + 1)
		p.expect(',')
		val := p.parse(depth + 1)
		p.expect('>')
		if p.err != nil {
			return nil
		}
		if key.Kind.IsNested() || key.Kind == KindChoice || key.Kind == KindNull {
			p.pos = start
			p.fail("map keys must be a scalar type")
			return nil
		}
		return MapType(key, val)
	case "choice", "union", "uniontype":
		p.expect('<')
		var alts []*Type
		for p.err == nil {
			alts = append(alts, p.parse(depth+1))
			if p.peek() != ',' {
				break
			}
			p.pos++
		}
		p.expect('>')
		if p.err != nil {
			return nil
		}
		return ChoiceType(alts...)
	case "struct":
		p.expect('<')
		t := &Type{Kind: KindStruct}
		if p.peek() == '>' {
			p.pos++
			return t
		}
		for p.err == nil {
			col := p.field(depth)
			if p.err != nil {
				return nil
			}
			if t.Field(col.Name) != nil {
				p.fail(fmt.Sprintf("duplicate field %q", col.Name))
				return nil
			}
			t.Fields = append(t.Fields, col)
			if p.peek() != ',' {
				break
			}
			p.pos++
		}
		p.expect('>')
		if p.err != nil {
			return nil
		}
		return t
	}
	p.pos = start
	p.skipSpace()
	p.fail(fmt.Sprintf("unknown type %q", w))
	return nil
}

func (p *typeParser) field(depth int) Column {
	p.skipSpace()
	var name string
	if p.pos < len(p.src) && p.src[p.pos] == '`' {
		p.pos++
		var b strings.Builder
		for {
			if p.pos >= len(p.src) {
				p.fail("unterminated `name`")
				return Column{}
			}
			c := p.src[p.pos]
			p.pos++
			if c == '`' {
				if p.pos < len(p.src) && p.src[p.pos] == '`' {
					b.WriteByte('`')
					p.pos++
					continue
				}
				break
			}
			b.WriteByte(c)
		}
		name = b.String()
	} else {
		start := p.pos
		for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
			p.pos++
		}
		name = p.src[start:p.pos]
	}
	if name == "" {
		p.fail("expected a field name")
		return Column{}
	}
	if p.peek() == ':' {
		p.pos++
	}
	col := Column{Name: name, Nullable: true}
	col.Type = p.parse(depth + 1)
	for p.err == nil {
		save := p.pos
		switch strings.ToLower(p.word()) {
		case "not":
			if strings.ToLower(p.word()) != "null" {
				p.fail("expected null after not")
				return Column{}
			}
			col.Nullable = false
			continue
		case "comment":
			col.Comment = p.quoted()
			continue
		}
		p.pos = save
		break
	}
	return col
}
