package record

import (
	"errors"
	"strings"
	"unsafe"
)

// Decoding in place. [JSONDecoder.Decode] copies its input once, so that
// the record is independent of the caller's buffer. Where the input is
// immutable and the caller controls what outlives the record (the ETL
// decodes engine messages, which nothing modifies), the copy is a cost
// without a use: about 240 bytes and an allocation per click event, and a
// fifth of the decode's CPU once the GC's share is counted.
// [JSONDecoder.DecodeInPlace] skips it, and [Value.Owned] and
// [Record.CloneOwned] copy what must be kept past the input.

// DecodeInPlace is [JSONDecoder.Decode] without the copy of data: the
// record's strings, binary values, number texts ([Value.NumberText]) and
// the names of fields the schema does not name (and of every field when
// untyped) alias data. data must not be modified while r, or any string or
// value taken from r, is in use, and whatever is kept longer than data
// must be copied first ([Value.Owned], [Record.CloneOwned],
// [strings.Clone]): a kept alias also keeps all of data in memory. An
// error is independent of data.
func (d *JSONDecoder) DecodeInPlace(data []byte, r *Record) error {
	err := d.DecodeString(unsafe.String(unsafe.SliceData(data), len(data)), r)
	if err != nil {
		// The parts of an error that are slices of the input: the field's
		// name, and the text of a timestamp that did not parse (messages
		// are built, and a cast's error quotes a copy).
		var de *DecodeError
		if errors.As(err, &de) {
			de.Field = strings.Clone(de.Field)
		}
		var te *TimeError
		if errors.As(err, &te) {
			te.Text = strings.Clone(te.Text)
		}
	}
	return err
}

// Owned returns v with copies of the strings it holds or refers to: its
// string, binary bytes or number text, and for a nested value a deep copy
// of the record (names included, see [Record.CloneOwned]). It is what a
// value decoded in place ([JSONDecoder.DecodeInPlace]) must become before
// it outlives its input. A scalar without a string is returned as is.
func (v Value) Owned() Value {
	if v.str != "" {
		v.str = strings.Clone(v.str)
	}
	if v.ref != nil {
		v.ref = v.ref.CloneOwned()
	}
	return v
}

// CloneOwned is [Record.Clone] with copies of every field name and string
// (see [Value.Owned]): the copy shares no memory with r or its input.
func (r *Record) CloneOwned() *Record {
	if r == nil {
		return nil
	}
	c := &Record{}
	if r.fields != nil {
		c.fields = make([]Field, len(r.fields))
		for i, f := range r.fields {
			c.fields[i] = Field{Name: strings.Clone(f.Name), Value: f.Value.Owned()}
		}
	}
	if r.items != nil {
		c.items = make([]Value, len(r.items))
		for i, v := range r.items {
			c.items[i] = v.Owned()
		}
	}
	return c
}
