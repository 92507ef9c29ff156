package payload

import (
	"bytes"
	"fmt"
	"math"
	"mime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/model"
)

// Content types.
const (
	CSV  = "text/csv"
	JSON = "application/json"
)

// MediaType returns the media type of a Content-Type or Accept value
// without parameters, in lower case ("text/csv; charset=utf-8" →
// "text/csv"); "" for an empty value.
func MediaType(v string) string {
	if v == "" {
		return ""
	}
	if i := strings.IndexByte(v, ','); i >= 0 { // the first of an Accept list
		v = v[:i]
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(v))
	}
	return mt
}

// MaxRows bounds the rows of one request.
const MaxRows = 100_000

func tooMany(n int) error {
	return model.InputErrorf("payload: %d rows, more than the limit of %d per request", n, MaxRows)
}

// checkValue checks v against feature f's type.
func checkValue(f *model.Feature, v float64) error {
	if f.Type.Check(v) {
		return nil
	}
	if f.Type == model.FeatureCategorical {
		return fmt.Errorf("%v is not a category code (a whole number >= 0); feature %s is categorical", v, f.Name)
	}
	return fmt.Errorf("%v is not a whole number; feature %s is %s", v, f.Name, f.Type)
}

// DecodeCSV reads text/csv rows: one row per line (LF or CRLF), values
// separated by commas, no header; an empty field (or nan) is a missing
// value; blank lines are skipped. Every row must have len(features)
// values of the features' types.
func DecodeCSV(body []byte, features []model.Feature) ([][]float64, error) {
	n := len(features)
	lines := bytes.Count(body, []byte{'\n'}) + 1
	if lines > MaxRows+1 {
		return nil, tooMany(lines)
	}
	flat := make([]float64, 0, lines*n)
	rows := make([][]float64, 0, lines)
	line := 0
	for len(body) > 0 {
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		line++
		l = bytes.TrimSuffix(l, []byte{'\r'})
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		start := len(flat)
		field := 0
		for {
			var f []byte
			i := bytes.IndexByte(l, ',')
			if i >= 0 {
				f, l = l[:i], l[i+1:]
			} else {
				f = l
			}
			field++
			if field > n {
				return nil, model.InputErrorf("payload: csv line %d has more than %d values; the model expects %d", line, n, n)
			}
			v, err := parseField(f)
			if err != nil {
				return nil, model.InputErrorf("payload: csv line %d, value %d (%s): %v", line, field, features[field-1].Name, err)
			}
			if err := checkValue(&features[field-1], v); err != nil {
				return nil, model.InputErrorf("payload: csv line %d, value %d: %v", line, field, err)
			}
			flat = append(flat, v)
			if i < 0 {
				break
			}
		}
		if field != n {
			return nil, model.InputErrorf("payload: csv line %d has %d values; the model expects %d", line, field, n)
		}
		rows = append(rows, flat[start:len(flat):len(flat)])
	}
	if len(rows) == 0 {
		return nil, model.InputErrorf("payload: no rows in the csv body")
	}
	return rows, nil
}

func parseField(f []byte) (float64, error) {
	f = bytes.TrimSpace(f)
	if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
		f = bytes.TrimSpace(f[1 : len(f)-1])
	}
	if len(f) == 0 {
		return math.NaN(), nil
	}
	// ParseFloat keeps its argument only in the error it returns, which is
	// dropped here: parse the bytes in place, without a copy per value.
	v, err := strconv.ParseFloat(unsafe.String(&f[0], len(f)), 64)
	if err != nil {
		s := string(f)
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// AppendCSV appends one prediction per line; NaN is an empty line.
func AppendCSV(dst []byte, preds []float64) []byte {
	for _, p := range preds {
		if !math.IsNaN(p) {
			dst = strconv.AppendFloat(dst, p, 'g', -1, 64)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// ParseCSVPredictions reads an answer written by AppendCSV (or by any
// server answering one number per line, or comma-separated on one line).
func ParseCSVPredictions(body []byte) ([]float64, error) {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return nil, fmt.Errorf("payload: empty csv answer")
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' })
	out := make([]float64, len(fields))
	for i, f := range fields {
		v, err := parseField([]byte(f))
		if err != nil {
			return nil, fmt.Errorf("payload: csv answer, value %d: %v", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// DecodeJSON reads {"instances": [...]} where each instance is an array of
// len(features) values in feature order, or an object of feature names to
// values (a feature left out is missing), or {"features": [...]}, the form
// of SageMaker's built-in algorithms. A value is a JSON number or null
// (missing).
func DecodeJSON(body []byte, features []model.Feature) ([][]float64, error) {
	var doc struct {
		Instances *[]json.RawMessage `json:"instances"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, model.InputErrorf("payload: malformed JSON: %v", jsonMessage(err))
	}
	if doc.Instances == nil {
		return nil, model.InputErrorf(`payload: the JSON body has no "instances" (want {"instances": [[...], ...]} or {"instances": [{"feature": value, ...}]})`)
	}
	inst := *doc.Instances
	if len(inst) == 0 {
		return nil, model.InputErrorf("payload: no instances")
	}
	if len(inst) > MaxRows {
		return nil, tooMany(len(inst))
	}
	n := len(features)
	var index map[string]int
	flat := make([]float64, len(inst)*n)
	rows := make([][]float64, len(inst))
	for i, raw := range inst {
		row := flat[i*n : (i+1)*n : (i+1)*n]
		rows[i] = row
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) > 0 && raw[0] == '[':
			if err := decodeArray(raw, row, features, fmt.Sprintf("instances[%d]", i)); err != nil {
				return nil, err
			}
		case len(raw) > 0 && raw[0] == '{':
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &obj); err != nil {
				return nil, model.InputErrorf("payload: instances[%d]: %v", i, jsonMessage(err))
			}
			if index == nil {
				index = make(map[string]int, n)
				for j, f := range features {
					index[f.Name] = j
				}
			}
			if fv, ok := obj["features"]; ok && len(obj) == 1 {
				if _, named := index["features"]; !named {
					if err := decodeArray(bytes.TrimSpace(fv), row, features, fmt.Sprintf("instances[%d].features", i)); err != nil {
						return nil, err
					}
					continue
				}
			}
			for j := range row {
				row[j] = math.NaN()
			}
			for k, v := range obj {
				j, ok := index[k]
				if !ok {
					return nil, model.InputErrorf("payload: instances[%d]: unknown feature %q (the model's features are %s)", i, k, featureList(features))
				}
				x, err := jsonValue(v)
				if err == nil {
					err = checkValue(&features[j], x)
				}
				if err != nil {
					return nil, model.InputErrorf("payload: instances[%d].%s: %v", i, k, err)
				}
				row[j] = x
			}
		default:
			return nil, model.InputErrorf("payload: instances[%d]: want an array of values or an object of feature values, got %s", i, jsonKind(raw))
		}
	}
	return rows, nil
}

func decodeArray(raw []byte, row []float64, features []model.Feature, path string) error {
	if len(raw) == 0 || raw[0] != '[' {
		return model.InputErrorf("payload: %s: want an array of values, got %s", path, jsonKind(raw))
	}
	// The common case, numbers and nulls, decodes in one pass.
	if nums, ok := parseFlat(raw, row[:0]); ok && len(nums) == len(row) {
		for j, x := range nums {
			if err := checkValue(&features[j], x); err != nil {
				return model.InputErrorf("payload: %s[%d] (%s): %v", path, j, features[j].Name, err)
			}
		}
		return nil
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil {
		return model.InputErrorf("payload: %s: %v", path, jsonMessage(err))
	}
	if len(vals) != len(row) {
		return model.InputErrorf("payload: %s has %d values; the model expects %d", path, len(vals), len(row))
	}
	for j, v := range vals {
		x, err := jsonValue(v)
		if err == nil {
			err = checkValue(&features[j], x)
		}
		if err != nil {
			return model.InputErrorf("payload: %s[%d] (%s): %v", path, j, features[j].Name, err)
		}
		row[j] = x
	}
	return nil
}

// jsonValue reads a JSON number, or null as NaN.
func jsonValue(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, fmt.Errorf("empty value")
	}
	if c := raw[0]; c == '-' || (c >= '0' && c <= '9') {
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !isRange(err) {
			return 0, fmt.Errorf("%s is not a number", raw)
		}
		return v, nil
	}
	if string(raw) == "null" {
		return math.NaN(), nil
	}
	return 0, fmt.Errorf("want a number or null, got %s", jsonKind(raw))
}

// isRange reports a number too large for a float64, which ParseFloat
// returns as ±Inf with an error: keep the infinity.
func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		s := string(raw)
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return "the string " + s
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func jsonMessage(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func featureList(features []model.Feature) string {
	const max = 20
	names := make([]string, 0, min(len(features), max))
	for i, f := range features {
		if i == max {
			names = append(names, fmt.Sprintf("and %d more", len(features)-max))
			break
		}
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// AppendJSON appends {"predictions": [...]}; NaN becomes null.
func AppendJSON(dst []byte, preds []float64) []byte {
	dst = append(dst, `{"predictions":[`...)
	for i, p := range preds {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendJSONFloat(dst, p)
	}
	return append(dst, "]}"...)
}

// ParseJSONPredictions reads {"predictions": [...]} (null is NaN); the
// values may also be one-element arrays or objects with a "score" (the
// forms of SageMaker's built-in containers).
func ParseJSONPredictions(body []byte) ([]float64, error) {
	var doc struct {
		Predictions []json.RawMessage `json:"predictions"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("payload: malformed JSON answer: %v", jsonMessage(err))
	}
	out := make([]float64, len(doc.Predictions))
	for i, raw := range doc.Predictions {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var inner []json.RawMessage
			if json.Unmarshal(raw, &inner) == nil && len(inner) == 1 {
				raw = inner[0]
			}
		} else if len(raw) > 0 && raw[0] == '{' {
			var obj struct {
				Score json.RawMessage `json:"score"`
			}
			if json.Unmarshal(raw, &obj) == nil && obj.Score != nil {
				raw = obj.Score
			}
		}
		v, err := jsonValue(raw)
		if err != nil {
			return nil, fmt.Errorf("payload: predictions[%d]: %v", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// parseFlat reads a JSON array of numbers and nulls (NaN) such as
// [1.5,null,-2e3] without allocating per value. ok is false for anything
// else (nested arrays, strings, booleans, malformed JSON), which the
// callers then decode the slow way for a precise error.
func parseFlat(data []byte, dst []float64) (out []float64, ok bool) {
	data = jsonTrim(data)
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	body := jsonTrim(data[1 : len(data)-1])
	if len(body) == 0 {
		return dst, true
	}
	for len(body) > 0 {
		var tok []byte
		if i := bytes.IndexByte(body, ','); i >= 0 {
			tok, body = body[:i], body[i+1:]
			if len(jsonTrim(body)) == 0 {
				return nil, false // trailing comma
			}
		} else {
			tok, body = body, nil
		}
		tok = jsonTrim(tok)
		if string(tok) == "null" {
			dst = append(dst, math.NaN())
			continue
		}
		if len(tok) == 0 || !(tok[0] == '-' || (tok[0] >= '0' && tok[0] <= '9')) {
			return nil, false
		}
		if !jsonNumber(tok) {
			return nil, false
		}
		v, err := strconv.ParseFloat(unsafe.String(&tok[0], len(tok)), 64)
		if err != nil && !isRange(err) {
			return nil, false
		}
		dst = append(dst, v)
	}
	return dst, true
}

// jsonNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(b []byte) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// jsonTrim trims JSON's whitespace (space, tab, CR, LF) from both ends.
func jsonTrim(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }
