package web

import (
	"strconv"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// featureNumber returns the number under name in raw, a decision record's
// features (a JSON object of names to numbers), and whether raw has it. A
// name given twice counts with its last value, and null reads as 0, as
// when the object is decoded into a map[string]float64; input that is not
// such an object gives false (or whatever it holds up to the point where it
// stops being one). Only the value asked for is parsed.
func featureNumber(raw []byte, name string) (float64, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return 0, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return 0, false
	}
	var val float64
	found := false
	for {
		// The name: a JSON string.
		if i >= len(raw) || raw[i] != '"' {
			return 0, false
		}
		j, escaped, ascii := i+1, false, true
		for j < len(raw) && raw[j] != '"' {
			switch c := raw[j]; {
			case c == '\\':
				escaped = true
				j++
			case c >= utf8.RuneSelf:
				ascii = false
			}
			j++
		}
		if j >= len(raw) {
			return 0, false
		}
		// A name with escapes or bytes that are not UTF-8 (which decoding
		// replaces with U+FFFD) is decoded to compare.
		plain := !escaped && (ascii || utf8.Valid(raw[i+1:j]))
		match := plain && string(raw[i+1:j]) == name
		if !plain {
			var k string
			if gojson.Unmarshal(raw[i:j+1], &k) != nil {
				return 0, false
			}
			match = k == name
		}
		i = skipSpace(raw, j+1)
		if i >= len(raw) || raw[i] != ':' {
			return 0, false
		}
		// The value: a number or null, up to the next separator.
		i = skipSpace(raw, i+1)
		k := i
		for k < len(raw) && raw[k] != ',' && raw[k] != '}' && !isSpace(raw[k]) {
			k++
		}
		if k == i {
			return 0, false
		}
		if match {
			if tok := raw[i:k]; string(tok) == "null" {
				val, found = 0, true
			} else {
				f, err := strconv.ParseFloat(string(tok), 64)
				if err != nil {
					return 0, false
				}
				val, found = f, true
			}
		}
		i = skipSpace(raw, k)
		if i >= len(raw) {
			return 0, false
		}
		switch raw[i] {
		case '}':
			return val, found
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return 0, false
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
