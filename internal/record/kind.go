package record

// Kind is the tag of a [Value] and of a [Type]. Value kinds are the scalar
// kinds plus [KindStruct], [KindArray] and [KindMap]; [KindChoice] only
// occurs in types.
type Kind uint8

// The kinds. The zero Kind is [KindNull], so the zero [Value] is null.
const (
	KindNull      Kind = iota // no value; as a type, a field only ever seen as null
	KindBool                  // boolean
	KindInt                   // 32-bit signed integer (type int)
	KindLong                  // 64-bit signed integer (type long, Hive bigint)
	KindDouble                // 64-bit IEEE 754 float (type double)
	KindDecimal               // exact decimal with a scale (type decimal(p,s))
	KindString                // UTF-8 text
	KindBinary                // bytes
	KindTimestamp             // instant, nanoseconds since the Unix epoch, UTC
	KindDate                  // calendar date, days since 1970-01-01
	KindStruct                // ordered named fields
	KindArray                 // ordered values of one element type
	KindMap                   // key/value entries; keys kept as text
	KindChoice                // types only: a field seen with several types
	numKinds
)

var kindNames = [numKinds]string{
	KindNull:      "null",
	KindBool:      "boolean",
	KindInt:       "int",
	KindLong:      "long",
	KindDouble:    "double",
	KindDecimal:   "decimal",
	KindString:    "string",
	KindBinary:    "binary",
	KindTimestamp: "timestamp",
	KindDate:      "date",
	KindStruct:    "struct",
	KindArray:     "array",
	KindMap:       "map",
	KindChoice:    "choice",
}

// String returns the kind's type keyword, such as "long" or "struct".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + itoa(int64(k)) + ")"
}

// IsNumeric reports whether k is int, long, double or decimal.
func (k Kind) IsNumeric() bool {
	return k == KindInt || k == KindLong || k == KindDouble || k == KindDecimal
}

// IsNested reports whether k is struct, array or map.
func (k Kind) IsNested() bool {
	return k == KindStruct || k == KindArray || k == KindMap
}
