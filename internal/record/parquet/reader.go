package parquet

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"

	pq "github.com/parquet-go/parquet-go"

	"github.com/pricestream/pricestream/internal/record"
)

// Magic is the first and last four bytes of a Parquet file.
const Magic = "PAR1"

// Reader reads the records of a Parquet file (github.com/parquet-go/
// parquet-go reads the pages; this package assembles nested values from the
// columns' repetition and definition levels). It is not safe for concurrent
// use.
//
// Physical and logical types map to record kinds as: BOOLEAN boolean;
// INT32 int (DATE date, unsigned long, DECIMAL decimal); INT64 long
// (TIMESTAMP timestamp, DECIMAL decimal); INT96 timestamp; FLOAT and
// DOUBLE double; BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY binary (STRING, ENUM
// and JSON string, DECIMAL decimal, UUID string); groups struct; LIST (three
// and two level forms) and bare repeated fields array; MAP map.
type Reader struct {
	file   *pq.File
	groups []pq.RowGroup
	rows   pq.Rows // of groups[0], or nil
	cols   []*pnode
	schema *record.Schema
	buf    []pq.Row
	n, i   int   // rows in buf, next row in buf
	index  int64 // rows read
	err    error
	// per read
	values [][]pq.Value
	pos    []int
}

// NewReader opens the Parquet file of size bytes in r and compiles its
// schema. Malformed files give errors, never panics.
func NewReader(r io.ReaderAt, size int64) (rd *Reader, err error) {
	defer recoverTo(&err, -1)
	f, err := pq.OpenFile(r, size)
	if err != nil {
		return nil, &record.DecodeError{Format: "parquet", Offset: -1, Index: -1, Msg: "open", Err: err}
	}
	cols, err := plan(f.Schema())
	if err != nil {
		return nil, &record.DecodeError{Format: "parquet", Offset: -1, Index: -1, Msg: "schema", Err: err}
	}
	rc := make([]record.Column, len(cols))
	for i, c := range cols {
		rc[i] = record.Column{Name: c.name, Type: c.typ, Nullable: c.optional}
	}
	s, err := record.NewSchema(rc...)
	if err != nil {
		return nil, &record.DecodeError{Format: "parquet", Offset: -1, Index: -1, Msg: "schema", Err: err}
	}
	return &Reader{
		file: f, groups: f.RowGroups(), cols: cols, schema: s,
		buf: make([]pq.Row, 64), values: make([][]pq.Value, len(f.Schema().Columns())),
		pos: make([]int, len(f.Schema().Columns())),
	}, nil
}

// recoverTo turns a panic of the Parquet library on corrupt input into an
// error.
func recoverTo(err *error, index int64) {
	if p := recover(); p != nil {
		*err = &record.DecodeError{Format: "parquet", Offset: -1, Index: index, Msg: fmt.Sprintf("corrupt file: %v", p)}
	}
}

// Schema returns the catalog schema of the file.
func (rd *Reader) Schema() *record.Schema { return rd.schema }

// NumRows returns the number of rows in the file.
func (rd *Reader) NumRows() int64 { return rd.file.NumRows() }

// WriterSchema returns the file's Parquet schema in its text form.
func (rd *Reader) WriterSchema() string { return rd.file.Schema().String() }

// Close releases the reader's resources. It does not close the input.
func (rd *Reader) Close() error {
	if rd.rows == nil {
		return nil
	}
	err := rd.rows.Close()
	rd.rows = nil
	return err
}

// fill reads the next rows into buf, moving through the row groups.
func (rd *Reader) fill() (int, error) {
	for {
		if rd.rows == nil {
			if len(rd.groups) == 0 {
				return 0, io.EOF
			}
			rd.rows = rd.groups[0].Rows()
			rd.groups = rd.groups[1:]
		}
		n, err := rd.rows.ReadRows(rd.buf)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if cerr := rd.rows.Close(); cerr != nil {
			return 0, cerr
		}
		rd.rows = nil
	}
}

// Read decodes the next row into r, which it resets first. It returns
// [io.EOF] after the last row. After any other error the reader cannot go
// on.
func (rd *Reader) Read(r *record.Record) (err error) {
	if rd.err != nil {
		return rd.err
	}
	defer func() {
		if err != nil && !errors.Is(err, io.EOF) {
			rd.err = err
		}
	}()
	defer recoverTo(&err, rd.index)
	if rd.i == rd.n {
		n, err := rd.fill()
		if n == 0 {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return &record.DecodeError{Format: "parquet", Offset: -1, Index: rd.index, Msg: "read rows", Err: err}
		}
		rd.n, rd.i = n, 0
	}
	row := rd.buf[rd.i]
	rd.i++
	r.Reset()
	clear(rd.values)
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= len(rd.values) {
			return rd.errorf("", "column index %d out of range", c)
		}
		rd.values[c] = append(rd.values[c], v)
	}
	clear(rd.pos)
	a := assembler{rd: rd, root: r}
	for _, c := range rd.cols {
		v, err := a.value(c)
		if err != nil {
			return err
		}
		r.Append(c.name, v)
	}
	rd.index++
	return nil
}

func (rd *Reader) errorf(field, format string, args ...any) error {
	return &record.DecodeError{Format: "parquet", Offset: -1, Index: rd.index, Field: field, Msg: fmt.Sprintf(format, args...)}
}

type assembler struct {
	rd   *Reader
	root *record.Record
}

// peek returns the current value of column c.
func (a *assembler) peek(c int) (pq.Value, bool) {
	vs := a.rd.values[c]
	p := a.rd.pos[c]
	if p >= len(vs) {
		return pq.Value{}, false
	}
	return vs[p], true
}

// skip advances every leaf column under n by one value (a null or an empty
// repetition covers one value in each).
func (a *assembler) skip(n *pnode) {
	switch n.shape {
	case shapeLeaf:
		a.rd.pos[n.col]++
	case shapeStruct:
		for _, f := range n.fields {
			a.skip(f)
		}
	case shapeList:
		a.skip(n.elem)
	case shapeMap:
		a.skip(n.key)
		a.skip(n.elem)
	}
}

func (a *assembler) value(n *pnode) (record.Value, error) {
	lead, ok := a.peek(n.lead)
	if !ok {
		return record.Value{}, a.rd.errorf(n.name, "column %d has fewer values than its levels need", n.lead)
	}
	if n.optional && lead.DefinitionLevel() < n.def {
		a.skip(n)
		return record.Value{}, nil
	}
	switch n.shape {
	case shapeLeaf:
		a.rd.pos[n.col]++
		return a.leaf(n, lead)
	case shapeStruct:
		child := a.root.Alloc()
		for _, f := range n.fields {
			v, err := a.value(f)
			if err != nil {
				return record.Value{}, err
			}
			child.Append(f.name, v)
		}
		return record.StructValue(child), nil
	case shapeList, shapeMap:
		child := a.root.Alloc()
		if lead.DefinitionLevel() < n.repNode.def {
			a.skip(n) // present but empty
		} else {
			for {
				if n.shape == shapeList {
					v, err := a.value(n.elem)
					if err != nil {
						return record.Value{}, err
					}
					child.AppendItem(v)
				} else {
					k, err := a.value(n.key)
					if err != nil {
						return record.Value{}, err
					}
					v, err := a.value(n.elem)
					if err != nil {
						return record.Value{}, err
					}
					child.Append(k.Text(), v)
				}
				next, ok := a.peek(n.lead)
				if !ok || next.RepetitionLevel() != n.repNode.rep {
					break
				}
			}
		}
		if n.shape == shapeList {
			return record.ArrayOf(child), nil
		}
		return record.MapValue(child), nil
	}
	return record.Value{}, a.rd.errorf(n.name, "unknown node shape")
}

func (a *assembler) leaf(n *pnode, v pq.Value) (record.Value, error) {
	if v.IsNull() {
		return record.Value{}, a.rd.errorf(n.name, "null value at a defined level")
	}
	switch n.conv {
	case convBool:
		return record.BoolValue(v.Boolean()), nil
	case convInt32:
		return record.IntValue(v.Int32()), nil
	case convUint32:
		return record.LongValue(int64(v.Uint32())), nil
	case convInt64:
		return record.LongValue(v.Int64()), nil
	case convUint64:
		u := v.Uint64()
		if u > math.MaxInt64 {
			return record.Value{}, a.rd.errorf(n.name, "uint64 %d overflows long", u)
		}
		return record.LongValue(int64(u)), nil
	case convFloat:
		return record.DoubleValue(float64(v.Float())), nil
	case convDouble:
		return record.DoubleValue(v.Double()), nil
	case convString:
		return record.StringValue(string(v.ByteArray())), nil
	case convBinary:
		return record.BinaryValue(v.ByteArray()), nil
	case convDate:
		return record.DateValue(int64(v.Int32())), nil
	case convTimestamp:
		x := v.Int64()
		ns := x * n.mul
		if n.mul != 1 && ns/n.mul != x {
			return record.Value{}, a.rd.errorf(n.name, "timestamp %d out of range", x)
		}
		return record.TimestampNanos(ns), nil
	case convInt96:
		i96 := v.Int96()
		nanosOfDay := int64(uint64(i96[1])<<32 | uint64(i96[0]))
		days := int64(i96[2]) - 2440588 // Julian day of 1970-01-01
		return record.TimestampNanos(days*86400e9 + nanosOfDay), nil
	case convDecimalInt:
		if v.Kind() == pq.Int32 {
			return record.DecimalValue(int64(v.Int32()), n.scale), nil
		}
		return record.DecimalValue(v.Int64(), n.scale), nil
	case convDecimalBytes:
		b := v.ByteArray()
		if len(b) == 0 {
			return record.DecimalValue(0, n.scale), nil
		}
		u := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return record.DecimalBig(u, n.scale), nil
	case convUUID:
		b := v.ByteArray()
		if len(b) != 16 {
			return record.Value{}, a.rd.errorf(n.name, "uuid of %d bytes", len(b))
		}
		const hex = "0123456789abcdef"
		out := make([]byte, 0, 36)
		for i, c := range b {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				out = append(out, '-')
			}
			out = append(out, hex[c>>4], hex[c&0xf])
		}
		return record.StringValue(string(out)), nil
	}
	return record.Value{}, a.rd.errorf(n.name, "unknown conversion")
}
