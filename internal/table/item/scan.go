package item

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small JSON reader over a byte slice, made for the two JSON
// forms of items: it keeps number texts exact, reports the offset of
// malformed input, and allocates only the strings it returns.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) syntax(msg string) error { return &SyntaxError{Offset: s.pos, Msg: msg} }

// ws skips white space.
func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// expect consumes c after white space.
func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		if s.pos >= len(s.data) {
			return s.syntax("unexpected end of input, want " + strconv.QuoteRune(rune(c)))
		}
		return s.syntax("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])) + ", want " + strconv.QuoteRune(rune(c)))
	}
	s.pos++
	return nil
}

// end checks that only white space is left.
func (s *scanner) end() error {
	if s.peek() != 0 || s.pos < len(s.data) {
		return s.syntax("unexpected data after the JSON value")
	}
	return nil
}

// more handles the separator after a member of an object or array: it
// consumes ',' and reports true, or consumes close and reports false.
func (s *scanner) more(close byte) (bool, error) {
	switch s.peek() {
	case ',':
		s.pos++
		return true, nil
	case close:
		s.pos++
		return false, nil
	case 0:
		return false, s.syntax("unexpected end of input")
	}
	return false, s.syntax("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])) + " after a value")
}

// literal consumes the keyword word (true, false, null).
func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.data)-s.pos >= len(word) && string(s.data[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

// boolean reads true or false.
func (s *scanner) boolean() (bool, error) {
	switch {
	case s.literal("true"):
		return true, nil
	case s.literal("false"):
		return false, nil
	}
	return false, s.syntax("want true or false")
}

// str reads a JSON string. Invalid UTF-8 is refused: DynamoDB strings are
// UTF-8.
func (s *scanner) str() (string, error) {
	if s.peek() != '"' {
		if s.pos >= len(s.data) {
			return "", s.syntax("unexpected end of input, want a string")
		}
		return "", s.syntax("want a string")
	}
	s.pos++
	start := s.pos
	ascii := true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw := s.data[start:s.pos]
			if !ascii && !utf8.Valid(raw) {
				return "", s.syntax("invalid UTF-8 in string")
			}
			s.pos++
			return string(raw), nil
		case c == '\\':
			return s.strEscaped(start)
		case c < 0x20:
			return "", s.syntax("control character in string")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.pos++
	}
	return "", s.syntax("unterminated string")
}

// strEscaped finishes a string with escapes, started at start.
func (s *scanner) strEscaped(start int) (string, error) {
	buf := make([]byte, 0, s.pos-start+16)
	buf = append(buf, s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !utf8.Valid(buf) {
				return "", s.syntax("invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", s.syntax("control character in string")
		case c != '\\':
			buf = append(buf, c)
			s.pos++
			continue
		}
		s.pos++
		if s.pos >= len(s.data) {
			break
		}
		e := s.data[s.pos]
		s.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", s.syntax("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					if x, ok := s.hex4(); ok {
						r2 = x
					} else {
						s.pos = save
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
				} else {
					r = utf8.RuneError
					if r2 >= 0 {
						// Not a pair: keep the second escape for the next turn.
						s.pos -= 6
					}
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", s.syntax("invalid escape in string")
		}
	}
	return "", s.syntax("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.data)-s.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.pos += 4
	return r, true
}

// number reads a JSON number and returns its text unchanged.
func (s *scanner) number() (string, error) {
	s.ws()
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return "", s.syntax("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return "", s.syntax("invalid number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return "", s.syntax("invalid number")
		}
	}
	s.pos = i
	return string(d[start:i]), nil
}

// skip skips one JSON value of any kind, to at most maxDepth levels.
func (s *scanner) skip(depth int) error {
	if depth > maxJSONDepth {
		return s.syntax("JSON nested too deeply")
	}
	switch c := s.peek(); {
	case c == '{':
		s.pos++
		if s.peek() == '}' {
			s.pos++
			return nil
		}
		for {
			if _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.more('}')
			if err != nil || !more {
				return err
			}
		}
	case c == '[':
		s.pos++
		if s.peek() == ']' {
			s.pos++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			more, err := s.more(']')
			if err != nil || !more {
				return err
			}
		}
	case c == '"':
		_, err := s.str()
		return err
	case c == 't' || c == 'f':
		_, err := s.boolean()
		return err
	case c == 'n':
		if s.literal("null") {
			return nil
		}
		return s.syntax("invalid literal")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.number()
		return err
	case c == 0:
		return s.syntax("unexpected end of input")
	}
	return s.syntax("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])))
}

// maxJSONDepth bounds the nesting of JSON that is skipped, so that hostile
// input cannot exhaust the stack.
const maxJSONDepth = 100
