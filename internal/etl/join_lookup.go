package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Lookup joins. The joined table is held in memory, one row per item with
// the attributes the join asks for, typed, and kept current by the table's
// change stream ([table.Table.Follow]): an event costs one map read, never
// a round trip. Each joined record carries the change sequence the lookup
// had applied (the table position it saw).

// Lookup is a table held in memory for joins. Get is safe for concurrent
// use with the goroutine that applies changes ([Lookup.Run]).
type Lookup struct {
	name   string
	key    string // the table's partition key attribute
	fields []JoinFieldSpec
	types  []*record.Type
	seq    atomic.Uint64 // last change applied
	ready  chan struct{} // closed once the snapshot is loaded

	mu struct {
		sync.RWMutex
		rows lookupRows
	}
}

// lookupRows are a lookup's rows: each key's values (the join's fields,
// in order) in a slot of one array, the map giving a key's slot. A join
// reads one row of a table of many per event, at random: a row kept as a
// record of its own (the record, then its fields' array) cost two cache
// misses more per read than a slot of the array, and more memory; the
// slots' map keeps short keys in its own slots (see keyMap).
//
// A join whose fields all have fixed-width types (numbers, booleans,
// times: most joins of a catalog) keeps its rows as words instead of
// values: a word of bits saying which fields are not null, then each
// field's bits (record.Value.Bits), in a slot of a power of two words, so that a
// row of up to seven fields lies in one cache line (a large array starts
// on a page). The Fast Sneakers job's joins take 32 bytes a row each, not
// 120 and 80 as values (BenchmarkETLLookupRows: 62 against 177 heap bytes
// a row with the map); a read's time is the map's cache misses either
// way. A value that the bits alone would not give back as it was (a
// number whose source text is not the number's own spelling, such as
// "19.90", or a value not of its field's kind) is kept whole beside the
// words, and its row marked so (rowSpilled); get then reads it from
// there.
type lookupRows struct {
	width int           // values a row
	slots keyMap[int32] // the slot of each key's row
	free  []int32       // slots of removed rows, for new keys

	// The value layout: width values a slot.
	vals []record.Value

	// The word layout, where kinds is not nil: stride words a slot.
	kinds  []record.Kind          // each field's kind
	stride int                    // words a slot: width+1, rounded up to a power of two up to 8
	words  []uint64               // the slots: present bits (and rowSpilled), then each field's bits
	spill  map[int64]record.Value // values kept whole, by slot*width+field
}

// rowSpilled marks a row in the word layout with a value kept whole.
const rowSpilled = 1 << 63

// newLookupRows returns empty rows of fields of the given types (nil
// types: any, kept as values).
func newLookupRows(types []*record.Type) lookupRows {
	rs := lookupRows{width: len(types)}
	if len(types) == 0 || len(types) >= 63 {
		return rs
	}
	kinds := make([]record.Kind, len(types))
	for i, t := range types {
		if t == nil || !t.Kind.FixedWidth() {
			return rs
		}
		kinds[i] = t.Kind
	}
	rs.kinds = kinds
	rs.stride = len(types) + 1
	if rs.stride <= 8 {
		for rs.stride&(rs.stride-1) != 0 {
			rs.stride++
		}
	}
	return rs
}

// set stores r's first width values as key's row.
func (rs *lookupRows) set(key string, r *record.Record) {
	s, ok := rs.slots.get(key)
	if !ok {
		if k := len(rs.free); k > 0 {
			s, rs.free = rs.free[k-1], rs.free[:k-1]
		} else {
			s = int32(rs.slots.len()) // with none free, every slot is a key's
			if rs.kinds == nil {
				rs.vals = append(rs.vals, make([]record.Value, rs.width)...)
			} else {
				rs.words = append(rs.words, make([]uint64, rs.stride)...)
			}
		}
		rs.slots.set(key, s)
	}
	if rs.kinds == nil {
		row := rs.vals[int(s)*rs.width : (int(s)+1)*rs.width]
		for i := range row {
			row[i] = r.At(i).Value
		}
		return
	}
	w := rs.words[int(s)*rs.stride:][:rs.width+1]
	if w[0]&rowSpilled != 0 {
		for i := range rs.width {
			delete(rs.spill, int64(s)*int64(rs.width)+int64(i))
		}
	}
	var present uint64
	for i, k := range rs.kinds {
		v := r.At(i).Value
		w[i+1] = 0
		switch {
		case v.IsNull():
			continue
		case v.Kind() == k && plainNumber(v):
			w[i+1] = v.Bits()
		default:
			if rs.spill == nil {
				rs.spill = make(map[int64]record.Value)
			}
			rs.spill[int64(s)*int64(rs.width)+int64(i)] = v
			present |= rowSpilled
		}
		present |= 1 << i
	}
	w[0] = present
}

// plainNumber reports whether v's bits give v back: it keeps no number
// text, or the text its number would be written as anyway.
func plainNumber(v record.Value) bool {
	text := v.NumberText()
	if text == "" {
		return true
	}
	var buf [32]byte
	if v.Kind() == record.KindDouble {
		return string(strconv.AppendFloat(buf[:0], v.Double(), 'g', -1, 64)) == text
	}
	return string(strconv.AppendInt(buf[:0], v.Long(), 10)) == text
}

// remove drops key's row.
func (rs *lookupRows) remove(key string) {
	s, ok := rs.slots.get(key)
	if !ok {
		return
	}
	rs.slots.delete(key)
	if rs.kinds == nil {
		clear(rs.vals[int(s)*rs.width : (int(s)+1)*rs.width]) // what they referenced can go
	} else {
		w := rs.words[int(s)*rs.stride:][:rs.width+1]
		if w[0]&rowSpilled != 0 {
			for i := range rs.width {
				delete(rs.spill, int64(s)*int64(rs.width)+int64(i))
			}
		}
		clear(w)
	}
	rs.free = append(rs.free, s)
}

// get copies key's row into dst and reports whether there is one.
func (rs *lookupRows) get(key string, dst []record.Value) bool {
	s, ok := rs.slots.get(key)
	if !ok {
		return false
	}
	if rs.kinds == nil {
		copy(dst, rs.vals[int(s)*rs.width:(int(s)+1)*rs.width])
		return true
	}
	w := rs.words[int(s)*rs.stride:][:rs.width+1]
	present := w[0]
	for i, k := range rs.kinds {
		if present&(1<<i) == 0 {
			dst[i] = record.NullValue()
		} else {
			dst[i] = record.FromBits(k, w[i+1])
		}
	}
	if present&rowSpilled != 0 {
		for i := range rs.width {
			if v, ok := rs.spill[int64(s)*int64(rs.width)+int64(i)]; ok {
				dst[i] = v
			}
		}
	}
	return true
}

func newLookup(spec *JoinSpec, types []*record.Type) *Lookup {
	l := &Lookup{name: spec.Table, fields: spec.Fields, types: types, ready: make(chan struct{})}
	l.mu.rows = newLookupRows(types)
	return l
}

// Get copies the row of key (its values of the join's fields, in order)
// into dst, which holds that many at least, and reports whether there is
// one, and the change sequence applied when it was read.
func (l *Lookup) Get(key string, dst []record.Value) (bool, uint64) {
	l.mu.RLock()
	ok := l.mu.rows.get(key, dst)
	seq := l.seq.Load()
	l.mu.RUnlock()
	return ok, seq
}

// Len returns the number of rows held.
func (l *Lookup) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.rows.slots.len()
}

// Ready is closed once the table's snapshot is loaded.
func (l *Lookup) Ready() <-chan struct{} { return l.ready }

// row converts an item to the lookup's row: the join's fields in order,
// cast to their types (a value that does not cast is null).
func (l *Lookup) row(it item.Item) (string, *record.Record) {
	k, ok := it[l.key]
	if !ok {
		return "", nil
	}
	key := keyText(valueOf(k))
	r := record.New(len(l.fields))
	for i, f := range l.fields {
		v := record.NullValue()
		if iv, ok := it[f.Name]; ok {
			if c, err := record.Cast(valueOf(iv), l.types[i]); err == nil {
				v = c
			}
		}
		r.Append(f.Name, v)
	}
	return key, r
}

// attrs are the attributes of the table's items that row reads.
func (l *Lookup) attrs() []string {
	names := []string{l.key}
	for _, f := range l.fields {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// fieldSet is a set of field names to find in records.
type fieldSet struct {
	names []string
	sig   [4]uint64 // bit nameSig(n) of each name n
}

// nameSig is a name's bit in a fieldSet's 256: of its length, first and
// last bytes together, so that a field whose length and first byte are
// each those of some name (price beside product_id and the like) is
// still told apart at once.
func nameSig(n string) uint8 {
	if n == "" {
		return 0
	}
	return uint8(len(n)*31 + int(n[0])*7 + int(n[len(n)-1]))
}

func newFieldSet(names []string) fieldSet {
	fs := fieldSet{names: names}
	for _, n := range names {
		b := nameSig(n)
		fs.sig[b>>6] |= 1 << (b & 63)
	}
	return fs
}

// find sets at[k] to the index of the first of fields called names[k], or
// -1. It looks at each field once, and at most fields only to see that no
// name has its signature (length, first and last bytes): finding that a
// field is missing costs a Ref a whole scan, with a string comparison for
// each name of the same length.
func (s *fieldSet) find(fields []record.Field, at []int) {
	for k := range at {
		at[k] = -1
	}
	for i := range fields {
		name := fields[i].Name
		if b := nameSig(name); s.sig[b>>6]&(1<<(b&63)) == 0 {
			continue
		}
		for k, n := range s.names {
			if at[k] < 0 && name == n {
				at[k] = i
			}
		}
	}
}

// keyText is the text a record value and a table key compare by.
func keyText(v record.Value) string {
	if v.Kind() == record.KindString {
		return v.Str()
	}
	return v.Text()
}

// Run loads the table and applies its changes until ctx is done. It
// returns nil when ctx is done. It decodes only the attributes the join
// reads of the items and of the changes' images: the key and the join's
// fields ([table.ImageAttrs]).
func (l *Lookup) Run(ctx context.Context, t *table.Table, logger *slog.Logger) error {
	l.key = t.Schema().Partition.Name
	rows := newLookupRows(l.types)
	sub, err := t.Follow(ctx, func(it item.Item) error {
		if k, r := l.row(it); r != nil {
			rows.set(k, r)
		}
		return nil
	}, table.ImageAttrs(l.attrs()...))
	if err != nil {
		return fmt.Errorf("join %s: load: %w", l.name, err)
	}
	defer sub.Stop()
	st, err := t.StreamState(ctx)
	if err == nil {
		l.seq.Store(st.LastSeq)
	}
	l.mu.Lock()
	l.mu.rows = rows
	l.mu.Unlock()
	close(l.ready)
	logger.Debug("lookup table loaded", "table", l.name, "items", rows.slots.len())
	for {
		c, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, table.ErrClosed) {
				return nil
			}
			return fmt.Errorf("join %s: follow: %w", l.name, err)
		}
		l.apply(c)
	}
}

func (l *Lookup) apply(c *table.Change) {
	var key string
	var r *record.Record
	if c.New != nil {
		key, r = l.row(c.New)
	} else if k, ok := c.Keys[l.key]; ok {
		key = keyText(valueOf(k))
	}
	l.mu.Lock()
	if r != nil {
		l.mu.rows.set(key, r)
	} else {
		l.mu.rows.remove(key)
	}
	l.seq.Store(c.Seq)
	l.mu.Unlock()
}

// joinOutputs are the fields a join sets in a record: its fields, then
// the position field. An output nothing after the join reads is not live
// (see pruneJoins), and not set.
type joinOutputs struct {
	names []string
	live  []bool
}

// compileJoin compiles a lookup join against the schema of its input.
func compileJoin(spec *JoinSpec, in *record.Schema) (stageDef, *record.Schema, []*record.Type, *joinOutputs, error) {
	var errs []error
	if spec.Table == "" {
		errs = append(errs, errors.New("table: missing"))
	}
	if spec.On == "" {
		errs = append(errs, errors.New("on: missing"))
	} else if err := checkPath(in, spec.On); err != nil {
		errs = append(errs, fmt.Errorf("on: %w", err))
	}
	inner := false
	switch spec.Type {
	case "", "left":
	case "inner":
		inner = true
	default:
		errs = append(errs, fmt.Errorf("type: %q: want left or inner", spec.Type))
	}
	if len(spec.Fields) == 0 {
		errs = append(errs, errors.New("fields: name at least one attribute to add, with its type"))
	}
	types := make([]*record.Type, len(spec.Fields))
	names := make([]string, len(spec.Fields))
	out := in
	for i, f := range spec.Fields {
		t, err := parseType(f.Type)
		if err != nil || f.Name == "" {
			if f.Name == "" {
				err = errors.New("name: missing")
			}
			errs = append(errs, fmt.Errorf("fields[%d]: %w", i, err))
			continue
		}
		types[i] = t
		names[i] = f.Name
		if f.As != "" {
			names[i] = f.As
		}
		out = withColumn(out, names[i], t)
	}
	posField := spec.PositionField
	if posField == "" {
		posField = spec.Table + "_seq"
	}
	if posField != "-" {
		out = withColumn(out, posField, record.TypeLong)
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, nil, nil, err
	}
	onRef := record.NewRef(schemaName(in, spec.On))
	jo := &joinOutputs{names: slices.Clone(names)}
	if posField != "-" {
		jo.names = append(jo.names, posField)
	}
	jo.live = make([]bool, len(jo.names))
	for k := range jo.live {
		jo.live[k] = true
	}
	tableName, on := spec.Table, spec.On
	return stageDef{build: func(env *stageEnv) Transform {
		// outs are the outputs the join sets (by index in jo.names: its
		// fields, then the position field), those something after it reads.
		// dup[x] is the first earlier one of the same name, or -1: that
		// one's value is overwritten, as a second set of the name would.
		var outs []int
		var outNames []string
		for k, live := range jo.live {
			if live {
				outs = append(outs, k)
				outNames = append(outNames, jo.names[k])
			}
		}
		dup := make([]int, len(outs))
		for x, n := range outNames {
			dup[x] = slices.Index(outNames[:x], n)
		}
		set := newFieldSet(outNames)
		at := make([]int, len(outs))
		row := make([]record.Value, len(names))
		var l *Lookup
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			if l == nil {
				if l = env.lookup(tableName); l == nil {
					return nil, &fatal{fmt.Errorf("join %s: the table is not loaded", tableName)}
				}
			}
			kv, ok := onRef.Get(r)
			if !ok {
				kv, _ = r.Lookup(on)
			}
			var found bool
			var seq uint64
			if !kv.IsNull() {
				found, seq = l.Get(keyText(kv), row)
			} else {
				_, seq = l.Get("", row)
			}
			if !found && inner {
				return nil, nil
			}
			set.find(r.Fields(), at)
			for x, k := range outs {
				v := record.LongValue(int64(seq))
				if k < len(names) {
					v = record.NullValue()
					if found {
						v = row[k]
					}
				}
				if d := dup[x]; d >= 0 {
					at[x] = at[d]
				}
				if at[x] >= 0 {
					r.SetAt(at[x], v)
				} else {
					at[x] = r.Len()
					r.Append(outNames[x], v)
				}
			}
			return o.of(r), nil
		}
	}}, out, types, jo, nil
}
