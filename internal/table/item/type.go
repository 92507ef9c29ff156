package item

// Type is the data type of a [Value], named by its DynamoDB descriptor.
type Type uint8

// The DynamoDB data types. The zero Type is [Invalid]: the type of the zero
// [Value], which stands for "no value" and is never stored.
const (
	Invalid Type = iota
	S            // string
	N            // number
	B            // binary
	BOOL         // boolean
	NULL         // null
	M            // map
	L            // list
	SS           // string set
	NS           // number set
	BS           // binary set
)

var typeNames = [...]string{
	Invalid: "INVALID",
	S:       "S",
	N:       "N",
	B:       "B",
	BOOL:    "BOOL",
	NULL:    "NULL",
	M:       "M",
	L:       "L",
	SS:      "SS",
	NS:      "NS",
	BS:      "BS",
}

// String returns the DynamoDB descriptor of t ("S", "N", "SS", ...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "INVALID"
}

// ParseType returns the Type whose descriptor is s ("S", "NS", "BOOL", ...),
// or false if s names no type. Descriptors are case-sensitive, as in
// DynamoDB.
func ParseType(s string) (Type, bool) {
	for t := S; t <= BS; t++ {
		if typeNames[t] == s {
			return t, true
		}
	}
	return Invalid, false
}

// IsSet reports whether t is one of the set types SS, NS and BS.
func (t Type) IsSet() bool { return t == SS || t == NS || t == BS }

// IsScalarKey reports whether t can be the type of a key attribute: S, N
// or B.
func (t Type) IsScalarKey() bool { return t == S || t == N || t == B }

// Elem returns the member type of a set type (S for SS, N for NS, B for BS)
// and Invalid for any other type.
func (t Type) Elem() Type {
	switch t {
	case SS:
		return S
	case NS:
		return N
	case BS:
		return B
	}
	return Invalid
}

// SetOf returns the set type whose members have type t (SS for S, NS for N,
// BS for B) and Invalid for any other type.
func (t Type) SetOf() Type {
	switch t {
	case S:
		return SS
	case N:
		return NS
	case B:
		return BS
	}
	return Invalid
}
