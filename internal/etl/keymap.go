package etl

// keyMap maps string keys to values as a Go map does, keeping a key of up
// to 15 bytes inside the map's slot instead of behind a string pointer.
//
// A join reads one row of a lookup table per event, for keys spread over
// thousands of products: each read of a map[string]V compares the key it
// finds with the one asked for by following the slot's pointer to the
// key's bytes, a cache miss of its own beside those of the map's group and
// of the value. Product, user and session ids are short: held in the slot,
// the compare reads the group's own cache lines. Longer keys go to a map
// of strings. (The window's map of keys stays a map of strings: there the
// array key's generic hashing and compare cost more than the miss.)
//
// A keyMap is not safe for concurrent use; its zero value is empty and
// ready.
type keyMap[V any] struct {
	short map[shortKey]V
	long  map[string]V
}

// shortKey is a key of up to 15 bytes: its length, then its bytes, the
// rest zero.
type shortKey [16]byte

// shortOf returns k as a shortKey, or false when it is too long for one.
func shortOf(k string) (shortKey, bool) {
	var s shortKey
	if len(k) >= len(s) {
		return s, false
	}
	s[0] = byte(len(k))
	copy(s[1:], k)
	return s, true
}

// get returns k's value and whether k is in the map.
func (m *keyMap[V]) get(k string) (V, bool) {
	if s, ok := shortOf(k); ok {
		v, ok := m.short[s]
		return v, ok
	}
	v, ok := m.long[k]
	return v, ok
}

// set sets k's value.
func (m *keyMap[V]) set(k string, v V) {
	if s, ok := shortOf(k); ok {
		if m.short == nil {
			m.short = make(map[shortKey]V)
		}
		m.short[s] = v
		return
	}
	if m.long == nil {
		m.long = make(map[string]V)
	}
	m.long[k] = v
}

// delete removes k.
func (m *keyMap[V]) delete(k string) {
	if s, ok := shortOf(k); ok {
		delete(m.short, s)
		return
	}
	delete(m.long, k)
}

// len returns the number of keys.
func (m *keyMap[V]) len() int { return len(m.short) + len(m.long) }
