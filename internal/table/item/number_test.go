package item

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNumberParseCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "0"},
		{"-0", "0"},
		{"+0", "0"},
		{"0.000", "0"},
		{"0e1000", "0"},
		{"129.99", "129.99"},
		{"1.50", "1.5"},
		{"1.0", "1"},
		{"00042", "42"},
		{"1.5E2", "150"},
		{"1e+5", "100000"},
		{"-17e5", "-1700000"},
		{"-17.4E37", "-174" + strings.Repeat("0", 36)},
		{"+3", "3"},
		{".123", "0.123"},
		{"1.", "1"},
		{"0001.23", "1.23"},
		{"-7.1234", "-7.1234"},
		{"1e-5", "0.00001"},
		{"0.000100", "0.0001"},
		{"100", "100"},
		{"10.010", "10.01"},
		{"1e125", "1" + strings.Repeat("0", 125)},
		{"9.99999999e125", "999999999" + strings.Repeat("0", 117)},
		{"1e-130", "0." + strings.Repeat("0", 129) + "1"},
		{"-1e-130", "-0." + strings.Repeat("0", 129) + "1"},
		{"3.1415926535897932384626433832795028841", "3.1415926535897932384626433832795028841"},
		{"31415926535897932384626433832795028841e30", "31415926535897932384626433832795028841" + strings.Repeat("0", 30)},
		// 40 characters but only 16 significant digits.
		{"1234567895171680000000000000000000000000", "1234567895171680000000000000000000000000"},
		{"0.1000000000000000000000000000000000000000000001e1", "ERR"},
	} {
		if strings.HasSuffix(tc.want, "ERR") {
			_, err := ParseNumber(tc.in)
			require.Error(t, err, tc.in)
			continue
		}
		n, err := ParseNumber(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, n.String(), tc.in)
		// The canonical form is a fixed point.
		again, err := ParseNumber(n.String())
		require.NoError(t, err)
		require.Equal(t, n, again)
	}
}

func TestNumberParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "is not a number"},
		{"12x", `N "12x" is not a number`},
		{"NaN", "is not a number"},
		{"Infinity", "is not a number"},
		{"-Infinity", "is not a number"},
		{" 1", "is not a number"},
		{"1 ", "is not a number"},
		{"1.2.3", "is not a number"},
		{"1e", "is not a number"},
		{"e5", "is not a number"},
		{".", "is not a number"},
		{"--1", "is not a number"},
		{"0x10", "is not a number"},
		{"1e126", "Number overflow"},
		{"11e125", "Number overflow"},
		{"-1e126", "Number overflow"},
		{"1e999999999999", "Number overflow"},
		{"1e-131", "Number underflow"},
		{"0.9e-130", "Number underflow"},
		{"1e-99999999999", "Number underflow"},
		{"3.14159265358979323846264338327950288419", "38 significant digits"},
		{"314159265358979323846264338327950288419e30", "38 significant digits"},
		{"100000000000000000000000000000000000001", "38 significant digits"},
	} {
		_, err := ParseNumber(tc.in)
		require.ErrorContains(t, err, tc.want, tc.in)
		var ve *ValidationError
		require.True(t, errors.As(err, &ve), tc.in)
	}
}

func TestNumberCmp(t *testing.T) {
	ordered := []string{
		"-1e125", "-100", "-99.5", "-10", "-1.5", "-1", "-0.5", "-0.05", "-1e-130",
		"0",
		"1e-130", "0.0001", "0.001", "0.0011", "0.01", "0.1", "0.5", "1", "1.000001", "1.5", "2", "9", "10", "10.5", "11", "99", "100", "1e125",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			got := MustParseNumber(a).Cmp(MustParseNumber(b))
			require.Equal(t, want, got, "%s cmp %s", a, b)
		}
	}
	require.Equal(t, 0, MustParseNumber("1.50").Cmp(MustParseNumber("1.5")))
	require.Equal(t, 0, Number{}.Cmp(MustParseNumber("-0")))
}

func TestNumberArithmetic(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sub  bool
		want string // or an error substring after "ERR "
	}{
		{"1", "2", false, "3"},
		{"129.99", "0.01", false, "130"},
		{"0.1", "0.2", false, "0.3"},
		{"1", "10000000000000000000000", false, "10000000000000000000001"},
		{"10000000000000000000000", "1", true, "9999999999999999999999"},
		{"5", "5", true, "0"},
		{"-2.5", "2.5", false, "0"},
		{"3", "5", true, "-2"},
		{"1.25", "-0.25", false, "1"},
		{"9e125", "9e125", false, "ERR Number overflow"},
		{"9e125", "-9e125", true, "ERR Number overflow"},
		{"1e50", "1", false, "ERR 38 significant digits"},
		{"1e50", "1", true, "ERR 38 significant digits"},
		{"1e50", "1e49", false, "11" + strings.Repeat("0", 49)},
		{"1e-130", "1e-130", true, "0"},
		{"2e-130", "1.5e-130", true, "ERR Number underflow"},
	} {
		a, b := MustParseNumber(tc.a), MustParseNumber(tc.b)
		var got Number
		var err error
		if tc.sub {
			got, err = a.Sub(b)
		} else {
			got, err = a.Add(b)
		}
		if msg, ok := strings.CutPrefix(tc.want, "ERR "); ok {
			require.ErrorContains(t, err, msg, "%s op %s", tc.a, tc.b)
			continue
		}
		require.NoError(t, err, "%s op %s", tc.a, tc.b)
		require.Equal(t, tc.want, got.String(), "%s op %s", tc.a, tc.b)
	}
}

func TestNumberOrderedEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nums := []Number{MustParseNumber("0"), MustParseNumber("1e125"), MustParseNumber("-1e125"),
		MustParseNumber("1e-130"), MustParseNumber("-1e-130"), MustParseNumber("0.1"), MustParseNumber("0.12"),
		MustParseNumber("0.1203"), MustParseNumber("0.123"), MustParseNumber("12"), MustParseNumber("120")}
	for range 2000 {
		nums = append(nums, randomNumber(r))
	}
	type enc struct {
		n Number
		b []byte
	}
	encs := make([]enc, len(nums))
	for i, n := range nums {
		encs[i] = enc{n, AppendOrdered(nil, NumberValue(n))}
		v, rest, err := DecodeOrdered(encs[i].b, N)
		require.NoError(t, err)
		require.Empty(t, rest)
		require.Equal(t, n.String(), v.N().String())
	}
	slices.SortFunc(encs, func(a, b enc) int { return strings.Compare(string(a.b), string(b.b)) })
	for i := 1; i < len(encs); i++ {
		require.LessOrEqual(t, encs[i-1].n.Cmp(encs[i].n), 0, "%s before %s", encs[i-1].n, encs[i].n)
	}
}

// randomNumber returns a random valid number, biased towards the edges.
func randomNumber(r *rand.Rand) Number {
	nd := 1 + r.IntN(MaxDigits)
	var sb strings.Builder
	if r.IntN(2) == 0 {
		sb.WriteByte('-')
	}
	sb.WriteByte(byte('1' + r.IntN(9)))
	for i := 1; i < nd; i++ {
		sb.WriteByte(byte('0' + r.IntN(10)))
	}
	sb.WriteString("e")
	exp := -129 - 1 + r.IntN(255) // so that 0.d×10^e stays in range
	sb.WriteString(itoa(exp - nd + 1 + 1))
	n, err := ParseNumber(sb.String())
	if err != nil {
		return MustParseNumber("7")
	}
	return n
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestNumberPlainCanonical: the decoder's shortcut accepts only canonical
// text, and the common shapes.
func TestNumberPlainCanonical(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"0", true}, {"7", true}, {"-7", true}, {"129.99", true}, {"-0.5", true}, {"0.0342", true},
		{"1569888072345", true}, {"10", true}, {"100.25", true},
		{"", false}, {"-", false}, {"-0", false}, {"00", false}, {"01", false}, {"1.50", false},
		{"1.", false}, {".5", false}, {"1e3", false}, {"+1", false}, {"0.0", false}, {"1.2.3", false},
		{"1 ", false}, {"123456789012345678901234567890123456789", false}, // too long for the shortcut
	} {
		require.Equal(t, c.want, plainCanonical(c.s), "%q", c.s)
		if c.want {
			var buf [maxCanonical]byte
			b, err := canonicalNumber(buf[:0], c.s)
			require.NoError(t, err, c.s)
			require.Equal(t, c.s, string(b))
		}
	}
}

// FuzzPlainCanonical: whatever the shortcut accepts is its own canonical
// text.
func FuzzPlainCanonical(f *testing.F) {
	for _, s := range []string{"0", "-0", "129.99", "1.50", "-0.5", "00.1", "1e5", "12345678901234567890123456789012345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainCanonical(s) {
			return
		}
		var buf [maxCanonical]byte
		b, err := canonicalNumber(buf[:0], s)
		if err != nil || string(b) != s {
			t.Fatalf("plainCanonical(%q) but its canonical text is %q (%v)", s, b, err)
		}
	})
}

// TestNumberDigits: the significant digits counted on the canonical text
// are those split takes apart.
func TestNumberDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []string{"0", "1", "-1", "10", "1200", "0.5", "0.00123", "-0.0012", "100.001", "129.99", "1569888072345",
		"99999999999999999999999999999999999999", "0.000000000000000000000000000000000000001"}
	for range 2000 {
		digits := make([]byte, 1+r.IntN(40))
		for i := range digits {
			digits[i] = byte('0' + r.IntN(10))
		}
		s := string(digits)
		if p := r.IntN(len(digits) + 1); p < len(digits) {
			s = s[:p] + "." + s[p:]
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		n, err := ParseNumber(s)
		if err != nil {
			continue // too many digits
		}
		want := n.split().nd
		if n.Sign() == 0 {
			want = 1
		}
		require.Equal(t, want, n.digits(), "%s (%s)", s, n)
	}
}
