package record

import (
	"errors"
	"math/big"
	"strings"
)

// MaxDecimalPrecision is the largest precision of a decimal type, as in Hive
// and Glue.
const MaxDecimalPrecision = 38

var errDecimalSyntax = errors.New("invalid decimal")

// ParseDecimal parses exact decimal text such as "-12.50", "3" or "1.5e3" and
// returns a decimal value with the scale the text has (after applying an
// exponent; a negative resulting scale is raised to 0). It accepts at most
// [MaxDecimalPrecision] significant digits.
func ParseDecimal(s string) (Value, error) {
	digits, scale, neg, err := splitDecimal(s)
	if err != nil {
		return Value{}, err
	}
	return makeDecimal(digits, scale, neg)
}

// splitDecimal returns the digits of s (integer and fraction concatenated,
// without leading zeros), the scale, and the sign.
func splitDecimal(s string) (digits string, scale int, neg bool, err error) {
	if s == "" {
		return "", 0, false, errDecimalSyntax
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	var b strings.Builder
	start := i
	sawDigit := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		sawDigit = true
	}
	intPart := s[start:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			sawDigit = true
		}
		frac = s[fs:i]
	}
	if !sawDigit {
		return "", 0, false, errDecimalSyntax
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return "", 0, false, errDecimalSyntax
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			exp = exp*10 + int(s[i]-'0')
			if exp > 1000 {
				return "", 0, false, errors.New("decimal exponent out of range")
			}
			i++
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return "", 0, false, errDecimalSyntax
	}
	b.Grow(len(intPart) + len(frac))
	b.WriteString(intPart)
	b.WriteString(frac)
	digits = strings.TrimLeft(b.String(), "0")
	scale = len(frac) - exp
	if scale < 0 {
		if digits != "" {
			digits += strings.Repeat("0", -scale)
		}
		scale = 0
	}
	return digits, scale, neg, nil
}

func makeDecimal(digits string, scale int, neg bool) (Value, error) {
	if len(digits) > MaxDecimalPrecision || scale > MaxDecimalPrecision {
		return Value{}, errors.New("decimal exceeds precision 38")
	}
	if digits == "" {
		return DecimalValue(0, scale), nil
	}
	if len(digits) <= 18 {
		var u int64
		for i := 0; i < len(digits); i++ {
			u = u*10 + int64(digits[i]-'0')
		}
		if neg {
			u = -u
		}
		return DecimalValue(u, scale), nil
	}
	n, _ := new(big.Int).SetString(digits, 10)
	if neg {
		n.Neg(n)
	}
	return DecimalBig(n, scale), nil
}

// decimalDigits returns the number of significant digits of the unscaled
// integer of a decimal value (at least 1) and its scale.
func (v Value) decimalDigits() (precision, scale int) {
	s := v.str
	if s == "" {
		s = itoa(int64(v.num))
	}
	s = strings.TrimPrefix(s, "-")
	return len(s), int(v.scale)
}

// rescale returns the decimal v with the given scale, exact; ok is false if
// that would drop nonzero digits.
func (v Value) rescale(scale int) (Value, bool) {
	if int(v.scale) == scale {
		return v, true
	}
	n, s := v.Decimal()
	ten := big.NewInt(10)
	for s < scale {
		n.Mul(n, ten)
		s++
	}
	var rem big.Int
	for s > scale {
		var q big.Int
		q.QuoRem(n, ten, &rem)
		if rem.Sign() != 0 {
			return Value{}, false
		}
		n = &q
		s--
	}
	return DecimalBig(n, scale), true
}

func (v Value) appendDecimal(dst []byte) []byte {
	var digits string
	neg := false
	if v.str != "" {
		digits = v.str
	} else {
		digits = itoa(int64(v.num))
	}
	if digits[0] == '-' {
		neg = true
		digits = digits[1:]
	}
	if neg {
		dst = append(dst, '-')
	}
	scale := int(v.scale)
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for range scale - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-scale:]...)
}

func bigInt(n int64) *big.Int { return big.NewInt(n) }
