package avro

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"unicode/utf8"

	hamba "github.com/hamba/avro/v2"

	"github.com/pricestream/pricestream/internal/record"
)

// maxDepth bounds the nesting of decoded values (recursive schemas).
const maxDepth = 64

// maxItems bounds the elements of one array or map value, so that a count
// of zero-byte items (nulls) cannot make the decoder loop or allocate
// without end.
const maxItems = 1 << 20

// Codec decodes and encodes the Avro binary encoding of one writer schema,
// as the catalog holds it for a stream or table. It compiles the schema once
// into a tree of operations and reads datums straight into a [record.Record]
// (hamba/avro parses and checks the schema). A Codec is safe for concurrent
// use.
//
// Values map to record kinds as: boolean, int, long, string and bytes as
// such; float and double as double; enum as string (the symbol); fixed as
// binary; record as struct; array; map (string keys); a union as the value
// of its branch (null for the null branch); logical types date, decimal
// (bytes or fixed) and timestamp-millis/-micros/-nanos (and their local-
// forms) as date, decimal and timestamp. A top-level schema that is not a
// record decodes into a record with one field, "value".
type Codec struct {
	writer string // the schema as given
	canon  string // canonical form
	root   *node
	wrap   bool // top-level schema is not a record
	schema *record.Schema
}

// New compiles a writer schema given as JSON.
func New(schemaJSON string) (*Codec, error) {
	s, err := hamba.ParseWithCache(schemaJSON, "", &hamba.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("avro: schema: %w", err)
	}
	return newCodec(s, schemaJSON)
}

func newCodec(s hamba.Schema, text string) (*Codec, error) {
	root, err := compile(s, map[string]*node{})
	if err != nil {
		return nil, fmt.Errorf("avro: schema: %w", err)
	}
	c := &Codec{writer: text, canon: s.String(), root: root}
	var cols []record.Column
	if root.op == opRecord {
		cols = root.columns(map[*node]bool{root: true})
	} else {
		c.wrap = true
		t, nullable := root.recordType(map[*node]bool{})
		cols = []record.Column{{Name: "value", Type: t, Nullable: nullable}}
	}
	if c.schema, err = record.NewSchema(cols...); err != nil {
		return nil, fmt.Errorf("avro: schema: %w", err)
	}
	return c, nil
}

// Schema returns the catalog schema of the records the codec produces.
func (c *Codec) Schema() *record.Schema { return c.schema }

// WriterSchema returns the writer schema as it was given.
func (c *Codec) WriterSchema() string { return c.writer }

// CanonicalSchema returns the writer schema in Avro's parsing canonical form.
func (c *Codec) CanonicalSchema() string { return c.canon }

var (
	_ record.Decoder = (*Codec)(nil)
	_ record.Encoder = (*Codec)(nil)
)

// Decode decodes one datum (the whole of data) into r, which it resets
// first. Errors name the byte offset and the field.
func (c *Codec) Decode(data []byte, r *record.Record) error {
	r.Reset()
	d := decoder{s: string(data), root: r}
	if err := d.top(c, r); err != nil {
		return err
	}
	if d.i != len(d.s) {
		return d.errorf("%d bytes after the datum", len(d.s)-d.i)
	}
	return nil
}

// decoder reads datums from s.
type decoder struct {
	s      string
	i      int
	root   *record.Record
	index  int64
	active []*node // recursive records being decoded
}

func (d *decoder) top(c *Codec, r *record.Record) error {
	if c.wrap {
		v, err := d.value(c.root, 0)
		if err != nil {
			return err
		}
		r.Append("value", v)
		return nil
	}
	if c.root.recursive {
		d.active = append(d.active[:0], c.root)
	}
	return d.fields(c.root, r, 0)
}

// errorf returns a DecodeError at the current offset; the field path is
// filled in by fields as the error goes up (no path is kept while decoding).
func (d *decoder) errorf(format string, args ...any) error {
	index := int64(-1)
	if d.index > 0 {
		index = d.index - 1
	}
	return &record.DecodeError{Format: "avro", Offset: int64(d.i), Index: index, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) fields(n *node, r *record.Record, depth int) error {
	for _, f := range n.fields {
		v, err := d.value(f.node, depth)
		if err != nil {
			var de *record.DecodeError
			if errors.As(err, &de) {
				if de.Field == "" {
					de.Field = f.name
				} else {
					de.Field = f.name + "." + de.Field
				}
			}
			return err
		}
		r.Append(f.name, v)
	}
	return nil
}

func (d *decoder) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			return 0, d.errorf("unexpected end of data in a varint")
		}
		b := d.s[d.i]
		d.i++
		u |= uint64(b&0x7f) << shift
		if b < 0x80 {
			if shift == 63 && b > 1 {
				return 0, d.errorf("varint overflows 64 bits")
			}
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, d.errorf("varint longer than 10 bytes")
}

func (d *decoder) int() (int32, error) {
	n, err := d.long()
	if err != nil {
		return 0, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, d.errorf("int %d out of range", n)
	}
	return int32(n), nil
}

func (d *decoder) bytes() (string, error) {
	n, err := d.long()
	if err != nil {
		return "", err
	}
	if n < 0 || n > int64(len(d.s)-d.i) {
		return "", d.errorf("length %d beyond the data", n)
	}
	b := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return b, nil
}

func (d *decoder) fixed(n int) (string, error) {
	if n > len(d.s)-d.i {
		return "", d.errorf("fixed of %d bytes beyond the data", n)
	}
	b := d.s[d.i : d.i+n]
	d.i += n
	return b, nil
}

func (d *decoder) value(n *node, depth int) (record.Value, error) {
	switch n.op {
	case opNull:
		return record.Value{}, nil
	case opBool:
		if d.i >= len(d.s) {
			return record.Value{}, d.errorf("unexpected end of data")
		}
		b := d.s[d.i]
		if b > 1 {
			return record.Value{}, d.errorf("invalid boolean byte 0x%02x", b)
		}
		d.i++
		return record.BoolValue(b == 1), nil
	case opInt:
		x, err := d.int()
		return record.IntValue(x), err
	case opLong:
		x, err := d.long()
		return record.LongValue(x), err
	case opDate:
		x, err := d.int()
		return record.DateValue(int64(x)), err
	case opTimestamp:
		x, err := d.long()
		if err != nil {
			return record.Value{}, err
		}
		ns := x * n.mul
		if n.mul != 1 && ns/n.mul != x {
			return record.Value{}, d.errorf("timestamp %d out of range", x)
		}
		return record.TimestampNanos(ns), nil
	case opFloat:
		if len(d.s)-d.i < 4 {
			return record.Value{}, d.errorf("unexpected end of data in a float")
		}
		u := uint32(d.s[d.i]) | uint32(d.s[d.i+1])<<8 | uint32(d.s[d.i+2])<<16 | uint32(d.s[d.i+3])<<24
		f := math.Float32frombits(u)
		d.i += 4
		return record.DoubleValue(float64(f)), nil
	case opDouble:
		if len(d.s)-d.i < 8 {
			return record.Value{}, d.errorf("unexpected end of data in a double")
		}
		u := uint64(0)
		for k := 7; k >= 0; k-- {
			u = u<<8 | uint64(d.s[d.i+k])
		}
		d.i += 8
		return record.DoubleValue(math.Float64frombits(u)), nil
	case opBytes:
		b, err := d.bytes()
		return record.BinaryString(b), err
	case opString:
		at := d.i
		b, err := d.bytes()
		if err != nil {
			return record.Value{}, err
		}
		if !utf8.ValidString(b) {
			d.i = at
			return record.Value{}, d.errorf("invalid UTF-8 in string")
		}
		return record.StringValue(b), nil
	case opFixed:
		b, err := d.fixed(n.size)
		return record.BinaryString(b), err
	case opDecimalBytes, opDecimalFixed:
		var b string
		var err error
		if n.op == opDecimalBytes {
			b, err = d.bytes()
		} else {
			b, err = d.fixed(n.size)
		}
		if err != nil {
			return record.Value{}, err
		}
		return decimalFromBytes(b, n.scale), nil
	case opEnum:
		x, err := d.int()
		if err != nil {
			return record.Value{}, err
		}
		if x < 0 || int(x) >= len(n.symbols) {
			return record.Value{}, d.errorf("enum index %d out of range", x)
		}
		return record.StringValue(n.symbols[x]), nil
	case opUnion:
		x, err := d.long()
		if err != nil {
			return record.Value{}, err
		}
		if x < 0 || x >= int64(len(n.branches)) {
			return record.Value{}, d.errorf("union branch %d out of range", x)
		}
		return d.value(n.branches[x], depth)
	case opRecord:
		if depth >= maxDepth {
			return record.Value{}, d.errorf("nesting deeper than %d", maxDepth)
		}
		child := d.root.Alloc()
		if !n.recursive {
			if err := d.fields(n, child, depth+1); err != nil {
				return record.Value{}, err
			}
			return record.StructValue(child), nil
		}
		inside := slices.Contains(d.active, n)
		d.active = append(d.active, n)
		err := d.fields(n, child, depth+1)
		d.active = d.active[:len(d.active)-1]
		if err != nil {
			return record.Value{}, err
		}
		if inside {
			return record.StringValue(string(record.AppendJSON(nil, child, nil))), nil
		}
		return record.StructValue(child), nil
	case opArray, opMap:
		if depth >= maxDepth {
			return record.Value{}, d.errorf("nesting deeper than %d", maxDepth)
		}
		child := d.root.Alloc()
		items := 0
		for {
			count, err := d.long()
			if err != nil {
				return record.Value{}, err
			}
			if count == 0 {
				break
			}
			if count < 0 {
				if count == math.MinInt64 {
					return record.Value{}, d.errorf("invalid block count")
				}
				count = -count
				if _, err := d.long(); err != nil { // block size in bytes
					return record.Value{}, err
				}
			}
			if count > maxItems-int64(items) {
				return record.Value{}, d.errorf("more than %d items", maxItems)
			}
			items += int(count)
			for range count {
				if n.op == opArray {
					v, err := d.value(n.elem, depth+1)
					if err != nil {
						return record.Value{}, err
					}
					child.AppendItem(v)
					continue
				}
				key, err := d.bytes()
				if err != nil {
					return record.Value{}, err
				}
				v, err := d.value(n.elem, depth+1)
				if err != nil {
					return record.Value{}, err
				}
				child.Append(key, v) // keys are unique in valid Avro
			}
		}
		if n.op == opArray {
			return record.ArrayOf(child), nil
		}
		return record.MapValue(child), nil
	}
	return record.Value{}, d.errorf("unsupported operation %d", n.op)
}

// decimalFromBytes reads a two's complement big-endian unscaled integer.
func decimalFromBytes(b string, scale int) record.Value {
	if len(b) <= 8 {
		var u int64
		for i := 0; i < len(b); i++ {
			u = u<<8 | int64(b[i])
		}
		if len(b) > 0 && len(b) < 8 && b[0]&0x80 != 0 {
			u -= 1 << (8 * len(b))
		}
		return record.DecimalValue(u, scale)
	}
	n := new(big.Int).SetBytes([]byte(b))
	if b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return record.DecimalBig(n, scale)
}
