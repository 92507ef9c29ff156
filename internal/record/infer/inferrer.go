package infer

import (
	"math"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// InferrerOptions configure an [Inferrer].
type InferrerOptions struct {
	// Text says that string values are the text of any type, as in CSV: a
	// column whose texts are all integers is long, all numbers double, all
	// true/false boolean, all times a timestamp. Without Text (JSON, Avro,
	// Parquet) strings stay strings, except that strings that are all times
	// in one format become a timestamp or date with that format.
	Text bool
	// NoTimes keeps time-like strings as strings.
	NoTimes bool
}

// Inferrer accumulates records and infers their schema. Feed it records with
// [Inferrer.Add] and read the schema with [Inferrer.Schema] at any time. It
// keeps counts, not records. It is not safe for concurrent use; infer
// partitions separately and combine them with [record.MergeSchemas].
//
// # Rules
//
//   - Integers are long (int only when every value came as an int, from
//     Avro or Parquet), so ids keep all 64 bits; integers and doubles
//     together are double, unless an integer is beyond 2^53, where a double
//     would lose it: then the field is choice<double,long>.
//   - A field seen with kinds that do not widen into one another is a
//     choice, as Glue's DynamicFrames keep it (choice<long,string>).
//   - Nested objects are structs, merged field by field over the records;
//     arrays are arrays of the merge of their elements.
//   - A column is nullable when some record lacks it or holds null.
//   - A field only ever null has type null (string for text formats).
//   - Time texts become timestamp (or date) with the detected format
//     ([record.DetectTimeFormat]); when values disagree on the format but
//     all are ISO 8601, the flexible ISO format; otherwise string.
type Inferrer struct {
	opts InferrerOptions
	root node
	n    int
}

// NewInferrer returns an empty Inferrer.
func NewInferrer(opts InferrerOptions) *Inferrer {
	return &Inferrer{opts: opts}
}

// Records returns the number of records added.
func (in *Inferrer) Records() int { return in.n }

// Add accounts for one record. It does not keep r.
func (in *Inferrer) Add(r *record.Record) {
	in.n++
	in.root.structs++
	in.root.addFields(r, &in.opts)
}

// Schema returns the schema of the records added so far (an empty schema
// before any).
func (in *Inferrer) Schema() *record.Schema {
	cols := in.root.columns(&in.opts)
	s, err := record.NewSchema(cols...)
	if err != nil {
		panic("infer: invalid schema: " + err.Error()) // names are unique by construction
	}
	return s
}

// kind bits of the values seen.
const (
	seenBool = 1 << iota
	seenInt
	seenLong
	seenDouble
	seenDecimal
	seenString
	seenBinary
	seenTimestamp
	seenDate
	seenStruct
	seenArray
	seenMap
)

var kindBit = [...]uint16{
	record.KindBool:      seenBool,
	record.KindInt:       seenInt,
	record.KindLong:      seenLong,
	record.KindDouble:    seenDouble,
	record.KindDecimal:   seenDecimal,
	record.KindString:    seenString,
	record.KindBinary:    seenBinary,
	record.KindTimestamp: seenTimestamp,
	record.KindDate:      seenDate,
	record.KindStruct:    seenStruct,
	record.KindArray:     seenArray,
	record.KindMap:       seenMap,
}

// text candidates of a string column in Text mode.
const (
	candLong = 1 << iota
	candDouble
	candBool
	candAll = candLong | candDouble | candBool
)

type node struct {
	present int // values (null included) seen for this field
	nulls   int
	seen    uint16
	bigLong bool // an integer beyond ±2^53
	// decimals: widest integer digits and scale
	decInt, decScale int
	// strings
	strings   int
	cand      uint8 // text candidates still possible
	candInit  bool
	timeState uint8 // 0 untried, 1 still times, 2 not times
	timeFmt   record.TimeFormat
	timeKind  record.Kind
	allISO    bool // every time text so far parses in the flexible ISO format
	// timestamp and date values: their type's format is the default
	// structs
	structs  int
	names    []string
	children map[string]*node
	// arrays and maps
	elem *node
}

func (n *node) child(name string) *node {
	if n.children == nil {
		n.children = make(map[string]*node)
	}
	c, ok := n.children[name]
	if !ok {
		c = &node{}
		n.children[name] = c
		n.names = append(n.names, name)
	}
	return c
}

func (n *node) addFields(r *record.Record, opts *InferrerOptions) {
	for _, f := range r.Fields() {
		n.child(f.Name).add(f.Value, opts)
	}
}

const maxExactDouble = 1 << 53

func (n *node) add(v record.Value, opts *InferrerOptions) {
	n.present++
	k := v.Kind()
	if k == record.KindNull {
		n.nulls++
		return
	}
	if int(k) < len(kindBit) {
		n.seen |= kindBit[k]
	}
	switch k {
	case record.KindInt, record.KindLong:
		if x := v.Long(); x > maxExactDouble || x < -maxExactDouble {
			n.bigLong = true
		}
	case record.KindDecimal:
		p, s := decimalShape(v)
		n.decInt = max(n.decInt, p-s)
		n.decScale = max(n.decScale, s)
	case record.KindString:
		n.addString(v.Str(), opts)
	case record.KindStruct:
		n.structs++
		n.addFields(v.Struct(), opts)
	case record.KindMap:
		if n.elem == nil {
			n.elem = &node{}
		}
		for _, f := range v.Map().Fields() {
			n.elem.add(f.Value, opts)
		}
	case record.KindArray:
		if n.elem == nil {
			n.elem = &node{}
		}
		for _, e := range v.Array() {
			n.elem.add(e, opts)
		}
	}
}

func decimalShape(v record.Value) (precision, scale int) {
	u, s := v.Decimal()
	digits := len(strings.TrimPrefix(u.String(), "-"))
	return max(digits, s+1), s
}

func (n *node) addString(s string, opts *InferrerOptions) {
	n.strings++
	if opts.Text {
		if !n.candInit {
			n.cand, n.candInit = candAll, true
		}
		if n.cand != 0 {
			n.cand &= textCandidates(s, &n.bigLong)
		}
	}
	if opts.NoTimes || n.timeState == 2 {
		return
	}
	if n.timeState == 0 {
		f, kind, ok := record.DetectTimeFormat(s)
		if !ok {
			n.timeState = 2
			return
		}
		n.timeState, n.timeFmt, n.timeKind = 1, f, kind
		_, err := record.TimeFormat{}.Parse(s)
		n.allISO = err == nil
		return
	}
	if _, err := n.timeFmt.Parse(s); err == nil {
		if n.allISO {
			_, err := record.TimeFormat{}.Parse(s)
			n.allISO = err == nil
		}
		return
	}
	if _, err := (record.TimeFormat{}).Parse(s); err == nil && n.allISO {
		// both ISO 8601, in different shapes: the flexible format takes all
		n.timeFmt = record.TimeFormat{}
		if _, kind, ok := record.DetectTimeFormat(s); ok && kind == record.KindTimestamp {
			n.timeKind = record.KindTimestamp
		}
		return
	}
	n.timeState = 2
}

// textCandidates returns which of long, double and boolean text s can be.
func textCandidates(s string, bigLong *bool) uint8 {
	if s == "" {
		return 0
	}
	switch strings.ToLower(s) {
	case "true", "false":
		return candBool
	}
	c := s[0]
	if c != '-' && c != '+' && c != '.' && (c < '0' || c > '9') {
		return 0
	}
	// numbers with leading zeros (zip codes, padded ids) stay text
	digits := strings.TrimLeft(s, "+-")
	if len(digits) > 1 && digits[0] == '0' && digits[1] != '.' && digits[1] != 'e' && digits[1] != 'E' {
		return 0
	}
	if x, err := strconv.ParseInt(s, 10, 64); err == nil {
		if x > maxExactDouble || x < -maxExactDouble {
			*bigLong = true
		}
		return candLong | candDouble
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= '0' && ch <= '9', ch == '.', ch == 'e', ch == 'E', ch == '+', ch == '-':
		default:
			return 0
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return candDouble
	}
	return 0
}

// columns returns the fields of a struct node as columns.
func (n *node) columns(opts *InferrerOptions) []record.Column {
	cols := make([]record.Column, 0, len(n.names))
	for _, name := range n.names {
		c := n.children[name]
		cols = append(cols, record.Column{
			Name:     name,
			Type:     c.typ(opts),
			Nullable: c.nulls > 0 || c.present < n.structs,
		})
	}
	return cols
}

// typ returns the inferred type of the values seen at n.
func (n *node) typ(opts *InferrerOptions) *record.Type {
	var types []*record.Type
	seen := n.seen
	// numbers first: integers and doubles widen to double unless that loses
	// an integer
	switch ints := seen & (seenInt | seenLong); {
	case ints != 0 && seen&seenDouble != 0:
		if n.bigLong {
			types = append(types, record.TypeDouble, record.TypeLong)
		} else {
			types = append(types, record.TypeDouble)
		}
	case ints == seenInt:
		types = append(types, record.TypeInt)
	case ints != 0:
		types = append(types, record.TypeLong)
	case seen&seenDouble != 0:
		types = append(types, record.TypeDouble)
	}
	if seen&seenDecimal != 0 {
		scale := n.decScale
		prec := min(n.decInt+scale, record.MaxDecimalPrecision)
		types = append(types, record.DecimalType(max(prec, 1), min(scale, prec)))
	}
	if seen&seenBool != 0 {
		types = append(types, record.TypeBool)
	}
	if seen&seenString != 0 {
		types = append(types, n.stringType(opts))
	}
	if seen&seenBinary != 0 {
		types = append(types, record.TypeBinary)
	}
	if seen&seenTimestamp != 0 {
		types = append(types, record.TypeTime)
	}
	if seen&seenDate != 0 {
		types = append(types, record.TypeDate)
	}
	if seen&seenStruct != 0 {
		types = append(types, record.StructType(n.columns(opts)...))
	}
	if seen&seenArray != 0 {
		types = append(types, record.ArrayType(n.elemType(opts)))
	}
	if seen&seenMap != 0 {
		types = append(types, record.MapType(record.TypeString, n.elemType(opts)))
	}
	if len(types) == 0 {
		if opts.Text {
			return record.TypeString // an all-empty text column
		}
		return record.TypeNull
	}
	t := types[0]
	for _, u := range types[1:] {
		t = record.MergeTypes(t, u)
	}
	// MergeTypes widens long into double; keep both when a long is too big
	if len(types) >= 2 && types[0] == record.TypeDouble && types[1] == record.TypeLong {
		t = record.ChoiceType(types...)
	}
	return t
}

func (n *node) elemType(opts *InferrerOptions) *record.Type {
	if n.elem == nil {
		return record.TypeNull
	}
	return n.elem.typ(opts)
}

func (n *node) stringType(opts *InferrerOptions) *record.Type {
	if opts.Text && n.cand != 0 {
		switch {
		case n.cand&candLong != 0:
			return record.TypeLong
		case n.cand&candDouble != 0:
			if n.bigLong {
				return record.ChoiceType(record.TypeDouble, record.TypeLong)
			}
			return record.TypeDouble
		case n.cand&candBool != 0:
			return record.TypeBool
		}
	}
	if n.timeState == 1 {
		if n.timeKind == record.KindDate {
			return record.DateType(n.timeFmt)
		}
		return record.TimestampType(n.timeFmt)
	}
	return record.TypeString
}
