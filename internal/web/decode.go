package web

import (
	"strconv"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// decodeDecision decodes a record of the price-changes stream into r and
// reports whether it is a decision (it has a product). Records as the
// pricing function writes them take a quick path (decodeDecisionQuick);
// anything else is decoded by goccy/go-json, as before.
func decodeDecision(data []byte, r *decision, demandNames [2]string) bool {
	if decodeDecisionQuick(data, r, demandNames) {
		return r.ProductID != ""
	}
	*r = decision{}
	// goccy/go-json decodes several times faster than encoding/json.
	if err := gojson.Unmarshal(data, r); err != nil {
		return false
	}
	return r.ProductID != ""
}

// findDemand sets r's demand from its features, unless known: the first of
// demandNames they have, else what the model expected to sell.
func (r *decision) findDemand(demandNames [2]string) {
	if r.demandKnown {
		return
	}
	r.demand, r.demandName = r.ExpectedUnits, "expected_units"
	for _, f := range demandNames {
		if v, ok := featureNumber(r.Features, f); ok {
			r.demand, r.demandName = v, f
			break
		}
	}
	r.demandKnown = true
}

// decodeDecisionQuick decodes, in one pass and without copying the
// features, a decision record of the plain shape encoding a
// [pricing.DecisionRecord] gives: one object whose names are the fields'
// own (no escapes), whose strings have no escapes, whose values are
// strings, numbers and booleans, and whose features are an object of
// numbers. It finds the demand (the first of demandNames the features
// have; the last value of a name given twice) as it goes. On anything else
// it reports false, and what it left in r is to be thrown away. Where it
// reports true, r is what decoding with goccy/go-json gives (see
// FuzzDecodeDecision).
func decodeDecisionQuick(data []byte, r *decision, demandNames [2]string) bool {
	*r = decision{}
	var found [2]bool
	var vals [2]float64
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		r.demand, r.demandName, r.demandKnown = 0, "expected_units", true
		return skipSpace(data, i+1) == len(data)
	}
	for {
		name, j, ok := plainString(data, i)
		if !ok {
			return false
		}
		i = skipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		if i >= len(data) {
			return false
		}
		var s *string
		var f *float64
		switch string(name) {
		case "decision_id":
			s = &r.DecisionID
		case "product_id":
			s = &r.ProductID
		case "action":
			s = &r.Action
		case "reason":
			s = &r.Reason
		case "model":
			s = &r.Model
		case "old_price":
			f = &r.OldPrice
		case "new_price":
			f = &r.NewPrice
		case "expected_units":
			f = &r.ExpectedUnits
		case "e2e_latency_ms":
			f = &r.E2EMillis
		case "decided_at":
			_, j, ok := plainString(data, i)
			if !ok {
				return false
			}
			// As goccy/go-json decodes a time: with time.Time's own
			// method, which reads RFC 3339.
			if r.DecidedAt.UnmarshalJSON(data[i:j]) != nil {
				return false
			}
			i = j
		case "features":
			if i, ok = demandOf(data, i, demandNames, &found, &vals); !ok {
				return false
			}
		default:
			if !fieldName(name) {
				// A name that differs from a field's only in case is that
				// field to goccy/go-json.
				return false
			}
			if i, ok = skipScalar(data, i); !ok {
				return false
			}
		}
		switch {
		case s != nil:
			v, j, ok := plainString(data, i)
			if !ok {
				return false
			}
			*s, i = string(v), j
		case f != nil:
			j, ok := number(data, i)
			if !ok {
				return false
			}
			v, err := strconv.ParseFloat(string(data[i:j]), 64)
			if err != nil {
				return false
			}
			*f, i = v, j
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			if skipSpace(data, i+1) != len(data) {
				return false
			}
			r.demand, r.demandName = r.ExpectedUnits, "expected_units"
			for k := range demandNames {
				if found[k] {
					r.demand, r.demandName = vals[k], demandNames[k]
					break
				}
			}
			r.demandKnown = true
			return true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return false
		}
	}
}

// fieldName reports whether name, not one of the fields decision keeps,
// is one goccy/go-json would not match to them either: it is ASCII without
// upper case letters (the fields' names are lower case, and names match
// them ignoring case, where some non-ASCII letters fold to ASCII ones).
func fieldName(name []byte) bool {
	for _, c := range name {
		if ('A' <= c && c <= 'Z') || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// demandOf reads a features object at data[i:], an object of names to
// numbers (or null, which reads as 0), noting the last value of each of
// names in vals and found; it returns the index after the object.
func demandOf(data []byte, i int, names [2]string, found *[2]bool, vals *[2]float64) (int, bool) {
	if data[i] == 'n' {
		// null: no features, as goccy/go-json leaves a null RawMessage
		// reading as none.
		if len(data)-i >= 4 && string(data[i:i+4]) == "null" {
			*found = [2]bool{}
			return i + 4, true
		}
		return 0, false
	}
	if data[i] != '{' {
		return 0, false
	}
	// A features object replaces any before it, as it does when decoded.
	*found = [2]bool{}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		name, j, ok := plainString(data, i)
		if !ok {
			return 0, false
		}
		i = skipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		i = skipSpace(data, i+1)
		null := len(data)-i >= 4 && string(data[i:i+4]) == "null"
		if null {
			j = i + 4
		} else if j, ok = number(data, i); !ok {
			return 0, false
		}
		// Only the numbers asked for are parsed.
		for k, n := range names {
			if string(name) != n {
				continue
			}
			var v float64
			if !null {
				var err error
				if v, err = strconv.ParseFloat(string(data[i:j]), 64); err != nil {
					return 0, false
				}
			}
			found[k], vals[k] = true, v
		}
		i = skipSpace(data, j)
		if i >= len(data) {
			return 0, false
		}
		switch data[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return 0, false
		}
	}
}

// plainString returns the contents of the JSON string at data[i:] and the
// index after it, if it has no escapes, no control characters and is
// valid UTF-8.
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(data[i+1:j]) {
				return nil, 0, false
			}
			return data[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// skipScalar skips a plain string, a number, true or false at data[i:].
func skipScalar(data []byte, i int) (int, bool) {
	switch data[i] {
	case '"':
		_, j, ok := plainString(data, i)
		return j, ok
	case 't':
		if len(data)-i >= 4 && string(data[i:i+4]) == "true" {
			return i + 4, true
		}
	case 'f':
		if len(data)-i >= 5 && string(data[i:i+5]) == "false" {
			return i + 5, true
		}
	default:
		return number(data, i)
	}
	return 0, false
}

// number returns the index after the JSON number at data[i:] (RFC 8259:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func number(data []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
