package item

import (
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Limits of DynamoDB numbers.
const (
	// MaxDigits is the most significant digits a number may have.
	MaxDigits = 38
	// maxExp and minExp bound the adjusted exponent e of a number written
	// as 0.d1d2…dk × 10^e: the magnitude must lie between 1e-130 (e = -129)
	// and 9.99…e125 (e = 126).
	maxExp = 126
	minExp = -129
	// maxCanonical is the longest canonical text of a number: a sign,
	// "0.", 129 zeros and 38 digits.
	maxCanonical = 1 + 2 + 129 + MaxDigits
)

// Number is an exact decimal number as DynamoDB stores it: up to 38
// significant digits, magnitude between 1e-130 and 9.99…e125, or zero.
// The zero Number is 0.
//
// A Number keeps its canonical text, the form DynamoDB returns: plain
// notation (never an exponent), no leading zeros, no trailing zeros after
// the decimal point, no decimal point for integers, no plus sign and no
// negative zero. So "129.99" stays "129.99", "1.50" becomes "1.5", "1.5E2"
// becomes "150", "00042" becomes "42" and "-0" becomes "0". DynamoDB
// normalizes numbers this way on write; observed against the real service
// in github.com/ExtendDB/extenddb/pull/7 and documented in the DynamoDB
// developer guide ("Leading and trailing zeroes are trimmed",
// CapacityUnitCalculations). Two Numbers are equal exactly when their
// canonical texts are equal, so "1.5" and "1.50" are the same key.
//
// Numbers are immutable values, safe to copy and share.
type Number struct{ s string }

// numErr builds the error of an invalid number text; the messages follow
// DynamoDB's.
func numErr(msg string) error { return &ValidationError{Msg: msg} }

var (
	errNumOverflow  = "Number overflow. Attempting to store a number with magnitude larger than supported range"
	errNumUnderflow = "Number underflow. Attempting to store a number with magnitude smaller than supported range"
	errNumDigits    = "Attempting to store more than 38 significant digits in a Number"
)

// ParseNumber parses s as a DynamoDB number: an optional sign, digits with
// an optional decimal point, and an optional exponent ("3", "-7.1234",
// "+3", ".123", "0001.23", "-17.4E37", "1e+5"). It rejects NaN, Infinity,
// spaces, more than 38 significant digits and magnitudes outside
// 1e-130…9.99…e125, with DynamoDB's messages. The error is a
// *[ValidationError] without a path.
func ParseNumber(s string) (Number, error) {
	var buf [maxCanonical]byte
	b, err := canonicalNumber(buf[:0], s)
	if err != nil {
		return Number{}, err
	}
	if string(b) == s {
		return Number{s}, nil // already canonical: no allocation
	}
	return Number{string(b)}, nil
}

// MustParseNumber is like [ParseNumber] but panics on an invalid number;
// for constants in code and tests.
func MustParseNumber(s string) Number {
	n, err := ParseNumber(s)
	if err != nil {
		panic(err)
	}
	return n
}

// NumberFromInt returns the Number of i.
func NumberFromInt(i int64) Number { return Number{strconv.FormatInt(i, 10)} }

// notANumber is the message for text that is no number at all.
func notANumber(s string) error {
	return numErr("N " + strconv.Quote(s) + " is not a number")
}

// canonicalNumber appends the canonical text of the number s to dst.
func canonicalNumber(dst []byte, s string) ([]byte, error) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	// Mantissa: digits with at most one decimal point.
	var digits [MaxDigits]byte
	nd := 0     // significant digits kept in digits (after leading zeros)
	nmant := 0  // mantissa digits seen
	lead := 0   // leading zeros before the first non-zero digit
	point := -1 // mantissa digits before the decimal point, -1 if none
	trail := 0  // zeros seen since the last non-zero digit
	sig := 0    // significant digits including pending trailing zeros
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if point >= 0 {
				return dst, notANumber(s)
			}
			point = nmant
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		nmant++
		if c == '0' {
			if sig == 0 {
				lead++
			} else {
				trail++
			}
			continue
		}
		// A non-zero digit: pending zeros become significant.
		if sig+trail+1 > MaxDigits {
			return dst, numErr(errNumDigits)
		}
		for ; trail > 0; trail-- {
			digits[nd] = '0'
			nd++
			sig++
		}
		digits[nd] = c
		nd++
		sig++
	}
	if nmant == 0 {
		return dst, notANumber(s)
	}
	if point < 0 {
		point = nmant
	}
	// Exponent.
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if exp < 1_000_000 {
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if i == start {
			return dst, notANumber(s)
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return dst, notANumber(s)
	}
	if nd == 0 {
		return append(dst, '0'), nil
	}
	// value = 0.d1…dk × 10^e
	e := point - lead + exp
	if e > maxExp {
		return dst, numErr(errNumOverflow)
	}
	if e < minExp {
		return dst, numErr(errNumUnderflow)
	}
	return appendPlain(dst, neg, digits[:nd], e), nil
}

// appendPlain appends the plain notation of ±0.d × 10^e, where d has no
// leading or trailing zeros.
func appendPlain(dst []byte, neg bool, d []byte, e int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	k := len(d)
	switch {
	case e <= 0:
		dst = append(dst, '0', '.')
		for j := 0; j < -e; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	case e < k:
		dst = append(dst, d[:e]...)
		dst = append(dst, '.')
		dst = append(dst, d[e:]...)
	default:
		dst = append(dst, d...)
		for j := k; j < e; j++ {
			dst = append(dst, '0')
		}
	}
	return dst
}

// String returns the canonical text of n, as DynamoDB returns it.
func (n Number) String() string {
	if n.s == "" {
		return "0"
	}
	return n.s
}

// Sign returns -1, 0 or +1 as n is negative, zero or positive.
func (n Number) Sign() int {
	switch {
	case n.s == "" || n.s == "0":
		return 0
	case n.s[0] == '-':
		return -1
	}
	return 1
}

// parts is a canonical number taken apart: sign, significant digits and the
// adjusted exponent e of 0.d1…dk × 10^e.
type parts struct {
	neg bool
	nd  int
	d   [MaxDigits]byte
	e   int
}

// split takes the canonical text of n apart without allocating.
func (n Number) split() (p parts) {
	s := n.s
	if s == "" || s == "0" {
		return p
	}
	if s[0] == '-' {
		p.neg = true
		s = s[1:]
	}
	point := len(s)
	seen := 0 // digits seen before the point
	lead := 0
	trail := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			point = seen
			continue
		}
		seen++
		if c == '0' {
			if p.nd == 0 {
				lead++
			} else {
				trail++
			}
			continue
		}
		for ; trail > 0 && p.nd < MaxDigits; trail-- {
			p.d[p.nd] = '0'
			p.nd++
		}
		if p.nd < MaxDigits {
			p.d[p.nd] = c
			p.nd++
		}
	}
	if point > seen {
		point = seen
	}
	p.e = point - lead
	return p
}

// Cmp compares n and m numerically and returns -1, 0 or +1.
func (n Number) Cmp(m Number) int {
	if n.s == m.s || (n.Sign() == 0 && m.Sign() == 0) {
		return 0
	}
	sn, sm := n.Sign(), m.Sign()
	if sn != sm {
		if sn < sm {
			return -1
		}
		return 1
	}
	a, b := n.split(), m.split()
	c := cmpMagnitude(&a, &b)
	if a.neg {
		return -c
	}
	return c
}

// cmpMagnitude compares |a| and |b|, both non-zero.
func cmpMagnitude(a, b *parts) int {
	if a.e != b.e {
		if a.e < b.e {
			return -1
		}
		return 1
	}
	for i := 0; i < a.nd && i < b.nd; i++ {
		if a.d[i] != b.d[i] {
			if a.d[i] < b.d[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.nd < b.nd:
		return -1
	case a.nd > b.nd:
		return 1
	}
	return 0
}

// digits returns the count of significant digits of n (1 for zero).
func (n Number) digits() int {
	if n.Sign() == 0 {
		return 1
	}
	// The significant digits of the canonical text: from its first
	// non-zero digit to its last, without a point between them (what split
	// counts, without copying them).
	s := n.s
	first, last := -1, -1
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > '0' && c <= '9' {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0
	}
	nd := last - first + 1
	if strings.IndexByte(s[first:last], '.') >= 0 {
		nd--
	}
	return min(nd, MaxDigits)
}

// arith is the context of number arithmetic: 38 digits, and an error
// rather than rounding when a result does not fit.
var arith = apd.Context{
	Precision:   MaxDigits,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.Inexact | apd.DefaultTraps,
	Rounding:    apd.RoundHalfEven,
}

// Add returns n + m. It fails, as DynamoDB does, when the exact sum needs
// more than 38 significant digits or leaves the supported magnitude range.
func (n Number) Add(m Number) (Number, error) { return n.arith(m, false) }

// Sub returns n - m, failing like [Number.Add].
func (n Number) Sub(m Number) (Number, error) { return n.arith(m, true) }

func (n Number) arith(m Number, sub bool) (Number, error) {
	var a, b, r apd.Decimal
	if _, _, err := a.SetString(n.String()); err != nil {
		return Number{}, numErr("invalid number " + n.String())
	}
	if _, _, err := b.SetString(m.String()); err != nil {
		return Number{}, numErr("invalid number " + m.String())
	}
	var err error
	if sub {
		_, err = arith.Sub(&r, &a, &b)
	} else {
		_, err = arith.Add(&r, &a, &b)
	}
	if err != nil {
		// Inexact: the exact result has more than 38 digits.
		return Number{}, numErr(errNumDigits)
	}
	r.Reduce(&r)
	return ParseNumber(r.Text('f'))
}

// Float64 returns the float64 nearest to n; for display and metrics only.
func (n Number) Float64() float64 {
	f, _ := strconv.ParseFloat(n.String(), 64)
	return f
}

// Int64 returns n as an int64 and true if n is an integer that fits.
func (n Number) Int64() (int64, bool) {
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return i, err == nil
}
