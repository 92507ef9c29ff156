package record

import (
	"iter"
	"strconv"
	"strings"
	"sync/atomic"
)

// Field is one named value of a [Record].
type Field struct {
	Name  string
	Value Value
}

// Record is a self-describing record: an ordered list of named, typed
// fields, as a Glue DynamicRecord. Field names are unique within a record
// (decoders keep the last of duplicate JSON keys).
//
// Lookup by name is a linear scan, which for the 10 to 20 fields of an event
// beats a map; a [Ref] remembers where a field was last found and makes the
// lookup O(1) for records of one shape.
//
// A Record is reused: [Record.Reset] empties it and keeps its storage,
// including the nested records it handed out through [Record.Alloc], so a
// decoder that decodes into the same Record allocates nothing in the steady
// state. The zero Record is empty and ready to use. A Record is not safe for
// concurrent mutation; concurrent reads are safe.
type Record struct {
	fields []Field
	items  []Value // elements when the record backs an array value

	// pool holds the nested records handed out by Alloc; used counts those
	// in use since the last Reset.
	pool []*Record
	used int
}

// New returns an empty record with room for n fields.
func New(n int) *Record { return &Record{fields: make([]Field, 0, n)} }

// Len returns the number of fields.
func (r *Record) Len() int { return len(r.fields) }

// Fields returns the fields in order. The slice is the record's own storage:
// it is valid until the next change to r; modify values through
// [Record.SetAt] rather than through the slice.
func (r *Record) Fields() []Field { return r.fields }

// At returns the i-th field.
func (r *Record) At(i int) Field { return r.fields[i] }

// SetAt replaces the value of the i-th field.
func (r *Record) SetAt(i int, v Value) { r.fields[i].Value = v }

// All iterates over the fields in order.
func (r *Record) All() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		for _, f := range r.fields {
			if !yield(f.Name, f.Value) {
				return
			}
		}
	}
}

// Index returns the position of the field called name, or -1.
func (r *Record) Index(name string) int {
	for i := range r.fields {
		if r.fields[i].Name == name {
			return i
		}
	}
	return -1
}

// Get returns the value of the field called name; ok is false if there is
// no such field (a present field may hold a null value).
func (r *Record) Get(name string) (v Value, ok bool) {
	for i := range r.fields {
		if r.fields[i].Name == name {
			return r.fields[i].Value, true
		}
	}
	return Value{}, false
}

// Lookup returns the value at a dotted path such as "billing.address.city"
// or "items[0].product_id", descending through struct fields, map keys and
// array indexes; ok is false if any step is missing. A name that itself
// contains a dot is matched whole before the path is split.
func (r *Record) Lookup(path string) (v Value, ok bool) {
	if v, ok := r.Get(path); ok {
		return v, true
	}
	cur := StructValue(r)
	for path != "" {
		var name string
		if path[0] == '[' {
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return Value{}, false
			}
			idx, err := strconv.Atoi(path[1:end])
			arr := cur.Array()
			if err != nil || idx < 0 || idx >= len(arr) {
				return Value{}, false
			}
			cur = arr[idx]
			path = strings.TrimPrefix(path[end+1:], ".")
			continue
		}
		end := strings.IndexAny(path, ".[")
		if end < 0 {
			name, path = path, ""
		} else {
			name, path = path[:end], path[end:]
			path = strings.TrimPrefix(path, ".")
		}
		var rec *Record
		switch cur.kind {
		case KindStruct, KindMap:
			rec = cur.ref
		default:
			return Value{}, false
		}
		if cur, ok = rec.Get(name); !ok {
			return Value{}, false
		}
	}
	return cur, true
}

// Set sets the field called name to v, replacing its value in place or
// appending a new field at the end.
func (r *Record) Set(name string, v Value) {
	if i := r.Index(name); i >= 0 {
		r.fields[i].Value = v
		return
	}
	r.fields = append(r.fields, Field{Name: name, Value: v})
}

// SetPath sets the field at a dotted path such as "billing.address.city",
// creating the structs on the way (from [Record.Alloc]) and replacing a
// non-struct value that is in the way. A name that contains a dot cannot be
// reached through SetPath; use [Record.Set] on its parent.
func (r *Record) SetPath(path string, v Value) {
	cur := r
	for {
		dot := strings.IndexByte(path, '.')
		if dot < 0 {
			cur.Set(path, v)
			return
		}
		name := path[:dot]
		path = path[dot+1:]
		i := cur.Index(name)
		if i >= 0 && cur.fields[i].Value.kind == KindStruct {
			cur = cur.fields[i].Value.ref
			continue
		}
		child := r.Alloc()
		if i >= 0 {
			cur.fields[i].Value.assign(StructValue(child))
		} else {
			cur.Append(name, StructValue(child))
		}
		cur = child
	}
}

// Append appends a field without checking that name is new. Decoders and
// transforms that build a record from a known set of names use it; a
// duplicate name makes [Record.Get] see only the first.
func (r *Record) Append(name string, v Value) {
	n := len(r.fields)
	if n < cap(r.fields) {
		r.fields = r.fields[:n+1]
	} else {
		r.fields = append(r.fields, Field{})
	}
	f := &r.fields[n]
	f.Name = name
	f.Value.assign(v)
}

// assign copies v into dst member by member: a whole-struct copy into the
// heap is a typed move with bulk write barriers while the GC marks, which
// dominated decoding in profiles; member stores use the cheap buffered
// barrier.
func (dst *Value) assign(v Value) {
	dst.kind = v.kind
	dst.scale = v.scale
	dst.num = v.num
	dst.str = v.str
	if dst.ref != v.ref {
		dst.ref = v.ref
	}
}

// Delete removes the field called name, keeping the order of the others,
// and reports whether it was there.
func (r *Record) Delete(name string) bool {
	i := r.Index(name)
	if i < 0 {
		return false
	}
	copy(r.fields[i:], r.fields[i+1:])
	r.fields[len(r.fields)-1] = Field{}
	r.fields = r.fields[:len(r.fields)-1]
	return true
}

// Rename renames the field called from to to and reports whether it was
// there. A field already called to is removed first.
func (r *Record) Rename(from, to string) bool {
	i := r.Index(from)
	if i < 0 {
		return false
	}
	if from == to {
		return true
	}
	if j := r.Index(to); j >= 0 {
		r.Delete(to)
		if j < i {
			i--
		}
	}
	r.fields[i].Name = to
	return true
}

// Reset empties r for reuse and recycles the nested records handed out by
// [Record.Alloc]: values that refer to them become invalid. Strings and
// scalar values taken from r stay valid.
//
// Reset does not clear the old fields (a clear of pointer memory costs write
// barriers on the decoding hot path): they stay reachable, and keep what they
// refer to alive, until overwritten.
func (r *Record) Reset() {
	r.fields = r.fields[:0]
	r.items = r.items[:0]
	r.used = 0
}

// Alloc returns an empty record for a nested struct, map or array value of
// r, taken from storage that r recycles on [Record.Reset]. The returned
// record, and every value referring to it, must not be used after r's next
// Reset. Use [New] for a record with an independent lifetime.
func (r *Record) Alloc() *Record {
	if r.used < len(r.pool) {
		c := r.pool[r.used]
		r.used++
		c.fields = c.fields[:0]
		c.items = c.items[:0]
		return c
	}
	c := &Record{}
	r.pool = append(r.pool, c)
	r.used++
	return c
}

// AllocArray returns an array value backed by a record from [Record.Alloc]
// with room for n elements, and a pointer to append elements to with
// [Record.AppendItem].
func (r *Record) AllocArray(n int) *Record {
	c := r.Alloc()
	if cap(c.items) < n {
		c.items = make([]Value, 0, n)
	}
	return c
}

// AppendItem appends an element to a record that backs an array value.
func (r *Record) AppendItem(v Value) { r.items = append(r.items, v) }

// ArrayOf returns the array value backed by r (see [Record.AllocArray]).
func ArrayOf(r *Record) Value { return Value{kind: KindArray, ref: r} }

// Clone returns a deep copy of r with its own storage, independent of r's
// Reset.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := &Record{}
	if r.fields != nil {
		c.fields = make([]Field, len(r.fields))
		for i, f := range r.fields {
			c.fields[i] = Field{Name: f.Name, Value: f.Value.clone()}
		}
	}
	if r.items != nil {
		c.items = make([]Value, len(r.items))
		for i, v := range r.items {
			c.items[i] = v.clone()
		}
	}
	return c
}

func (v Value) clone() Value {
	if v.ref != nil {
		v.ref = v.ref.Clone()
	}
	return v
}

// Equal reports whether r and o have the same fields with equal values in
// the same order (see [Value.Equal]).
func (r *Record) Equal(o *Record) bool {
	if r == nil || o == nil {
		return r == o
	}
	if len(r.fields) != len(o.fields) || len(r.items) != len(o.items) {
		return false
	}
	for i := range r.fields {
		if r.fields[i].Name != o.fields[i].Name || !r.fields[i].Value.Equal(o.fields[i].Value) {
			return false
		}
	}
	for i := range r.items {
		if !r.items[i].Equal(o.items[i]) {
			return false
		}
	}
	return true
}

// String returns r as one line of JSON.
func (r *Record) String() string {
	return string(AppendJSON(nil, r, nil))
}

// Ref is a field name with a remembered position: records of one shape (as a
// decoder produces them) keep a field at the same index, so a Ref finds it
// with one comparison instead of a scan. A Ref is safe for concurrent use.
type Ref struct {
	name string
	hint atomic.Int32
}

// NewRef returns a Ref to the field called name.
func NewRef(name string) *Ref { return &Ref{name: name} }

// Name returns the field name.
func (f *Ref) Name() string { return f.name }

// Index returns the position of the field in r, or -1.
func (f *Ref) Index(r *Record) int {
	h := int(f.hint.Load())
	if h < len(r.fields) && r.fields[h].Name == f.name {
		return h
	}
	i := r.Index(f.name)
	if i >= 0 {
		f.hint.Store(int32(i))
	}
	return i
}

// Get returns the value of the field in r; ok is false if r has no such field.
func (f *Ref) Get(r *Record) (v Value, ok bool) {
	if i := f.Index(r); i >= 0 {
		return r.fields[i].Value, true
	}
	return Value{}, false
}
