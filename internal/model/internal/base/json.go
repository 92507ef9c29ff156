package base

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// JSONError turns an error of encoding/json while reading a model file of
// the given format into a *LoadError of kind ErrInvalidModel whose position
// names the byte offset, line and column, and whose message names the field
// if encoding/json knows it.
func JSONError(format string, data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		// Offset counts the bytes read, the offending one included.
		return Invalid(format, OffsetPos(data, max(syntax.Offset-1, 0)), fmt.Errorf("malformed JSON: %v", syntax))
	case errors.As(err, &typ):
		what := fmt.Sprintf("JSON %s where %s expects %s", typ.Value, typ.Field, typ.Type)
		if typ.Field == "" {
			what = fmt.Sprintf("JSON %s where %s is expected", typ.Value, typ.Type)
		}
		// Offset is where the value of the wrong type ends.
		return Invalid(format, OffsetPos(data, typ.Offset), errors.New(what))
	}
	// Errors of UnmarshalJSON methods, unknown fields, and a truncated
	// document ("unexpected end of JSON input").
	return Invalid(format, "", err)
}

// OffsetPos describes the byte of data at offset off (counted from 0) as
// "offset N (line L, column C)", lines and columns counted from 1.
func OffsetPos(data []byte, off int64) string {
	if off < 0 || off > int64(len(data)) {
		return fmt.Sprintf("offset %d", off)
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("offset %d (line %d, column %d)", off, line, col)
}
