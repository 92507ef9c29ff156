package item

// MaxSize is the largest item DynamoDB stores: 400 KB, counting attribute
// names and values as [Item.Size] does.
const MaxSize = 400 * 1024

// Item is one table item: attribute names mapped to values. Attribute
// names are non-empty UTF-8 strings; values are never the zero [Value].
//
// An Item is a plain map; treat items you did not build as read-only, since
// they may share values with stored items. [Item.Clone] gives a shallow copy
// to change.
type Item map[string]Value

// Clone returns a shallow copy of it: a new map holding the same (immutable)
// values.
func (it Item) Clone() Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}

// Equal reports whether it and other have the same attributes with equal
// values (see [Equal]).
func (it Item) Equal(other Item) bool {
	if len(it) != len(other) {
		return false
	}
	for k, v := range it {
		w, ok := other[k]
		if !ok || !Equal(v, w) {
			return false
		}
	}
	return true
}

// Size returns the size of it as DynamoDB counts it against the 400 KB
// limit and for capacity units: for each attribute, the UTF-8 bytes of its
// name plus the size of its value. Value sizes follow the DynamoDB
// developer guide ("DynamoDB item sizes and formats",
// CapacityUnitCalculations): a string its UTF-8 bytes; a number 1 byte per
// two significant digits plus 1; a binary its raw bytes; a boolean or null
// 1 byte; a list or map 3 bytes plus 1 byte per element plus the elements
// (with their names, for a map); a set the sum of its members.
func (it Item) Size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.Size()
	}
	return n
}

// Size returns the size of v alone, without an attribute name (see
// [Item.Size]).
func (v Value) Size() int {
	switch v.t {
	case S, B:
		return len(v.s)
	case N:
		return numberSize(v.s)
	case BOOL, NULL:
		return 1
	case L:
		n := 3
		for _, e := range v.elems() {
			n += 1 + e.Size()
		}
		return n
	case M:
		n := 3
		for k, e := range v.fields() {
			n += 1 + len(k) + e.Size()
		}
		return n
	case SS, BS:
		n := 0
		for _, m := range v.elems() {
			n += len(m.s)
		}
		return n
	case NS:
		n := 0
		for _, m := range v.elems() {
			n += numberSize(m.s)
		}
		return n
	}
	return 0
}

func numberSize(s string) int { return (Number{s}.digits()+1)/2 + 1 }

// Validate checks what DynamoDB checks of a whole item before storing it:
// attribute names non-empty and at most [MaxNameLen] bytes, no zero Values,
// nesting at most [MaxDepth] levels (an update can nest a document deeper
// than any of its values), and a size of at most [MaxSize]. Values built
// by this package are valid otherwise by construction.
func (it Item) Validate() error {
	size := 0 // it.Size(), in the same pass
	for k, v := range it {
		if err := checkName(k); err != nil {
			return inName(err, k)
		}
		if !v.IsValid() {
			return &ValidationError{Path: k, Msg: "attribute has no value"}
		}
		if v.x != nil && v.depth() > MaxDepth {
			return &ValidationError{Path: k, Msg: msgNesting}
		}
		size += len(k) + v.Size()
	}
	if size > MaxSize {
		return &ValidationError{Msg: "Item size has exceeded the maximum allowed size"}
	}
	return nil
}

// depth returns the nesting depth of v: 1 for a scalar or set, 1 more than
// its deepest element for a list or map.
func (v Value) depth() int {
	d := 0
	switch v.t {
	case L:
		for _, e := range v.elems() {
			d = max(d, e.depth())
		}
	case M:
		for _, e := range v.fields() {
			d = max(d, e.depth())
		}
	}
	return d + 1
}
