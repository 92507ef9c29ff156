package expr

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF     tokKind = iota
	tIdent           // alphanumeric word starting with a letter: a name, keyword or function
	tName            // #placeholder
	tValue           // :placeholder
	tNumber          // digits, only valid as a list index
	tLParen          // (
	tRParen          // )
	tLBrack          // [
	tRBrack          // ]
	tComma           // ,
	tDot             // .
	tEQ              // =
	tNE              // <>
	tLT              // <
	tLE              // <=
	tGT              // >
	tGE              // >=
	tPlus            // +
	tMinus           // -
	tIllegal         // anything else
)

// token is one lexical token: its kind, and its text at [pos, end) in the
// source.
type token struct {
	kind     tokKind
	pos, end int
	text     string
}

// lex splits src into tokens, ending with tEOF. The rules are DynamoDB's:
// a bare name is a letter followed by letters, digits and underscores; a
// #name or :value placeholder is the sigil followed by at least one letter,
// digit or underscore; white space separates tokens and is otherwise
// ignored. Anything else is an illegal token, which the parser reports as a
// syntax error where it meets it.
func lex(src string, toks []token) []token {
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			return append(toks, token{kind: tEOF, pos: len(src), end: len(src), text: "<EOF>"})
		}
		start := i
		c := src[i]
		kind := tIllegal
		i++
		switch {
		case isLetter(c):
			for i < len(src) && isWordChar(src[i]) {
				i++
			}
			kind = tIdent
		case c >= '0' && c <= '9':
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			kind = tNumber
		case c == '#' || c == ':':
			j := i
			for i < len(src) && isWordChar(src[i]) {
				i++
			}
			if i > j {
				kind = tName
				if c == ':' {
					kind = tValue
				}
			}
		case c == '(':
			kind = tLParen
		case c == ')':
			kind = tRParen
		case c == '[':
			kind = tLBrack
		case c == ']':
			kind = tRBrack
		case c == ',':
			kind = tComma
		case c == '.':
			kind = tDot
		case c == '=':
			kind = tEQ
		case c == '+':
			kind = tPlus
		case c == '-':
			kind = tMinus
		case c == '<':
			kind = tLT
			if i < len(src) && src[i] == '=' {
				kind, i = tLE, i+1
			} else if i < len(src) && src[i] == '>' {
				kind, i = tNE, i+1
			}
		case c == '>':
			kind = tGT
			if i < len(src) && src[i] == '=' {
				kind, i = tGE, i+1
			}
		default:
			// One illegal character (a whole UTF-8 sequence).
			for i < len(src) && src[i]&0xC0 == 0x80 {
				i++
			}
		}
		toks = append(toks, token{kind: kind, pos: start, end: i, text: src[start:i]})
	}
}

func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isWordChar(c byte) bool {
	return isLetter(c) || (c >= '0' && c <= '9') || c == '_'
}

// isKeyword reports whether the identifier tok is the keyword kw (given in
// upper case), in any case.
func isKeyword(tok token, kw string) bool {
	if tok.kind != tIdent || len(tok.text) != len(kw) {
		return false
	}
	for i := 0; i < len(kw); i++ {
		c := tok.text[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != kw[i] {
			return false
		}
	}
	return true
}
