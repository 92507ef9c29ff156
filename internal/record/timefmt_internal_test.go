package record

import "testing"

// isoPatterns are patterns that take the ISO fast path.
var isoPatterns = []string{
	"yyyy-MM-dd HH:mm:ss z",
	"yyyy-MM-dd HH:mm:ss",
	"yyyy-MM-dd'T'HH:mm:ss.SSS",
	"yyyy-MM-dd'T'HH:mm:ssXXX",
	"yyyy-MM-dd HH:mm:ss.SSSSSS XXX",
	"yyyy/MM/dd HH:mm",
}

func TestTimeFormatFastPathChosen(t *testing.T) {
	for _, p := range isoPatterns {
		f := MustTimeFormat(p)
		if f.fast == nil {
			t.Errorf("%q: no fast path", p)
		}
	}
	for _, p := range []string{"dd/MM/yyyy HH:mm", "yyyy-MM-dd HH:mm:ss[.SSS] z", "EEE, dd MMM yyyy HH:mm:ss z", "yyyy-MM-dd"} {
		if MustTimeFormat(p).fast != nil {
			t.Errorf("%q: unexpected fast path", p)
		}
	}
}

// FuzzTimePatternFast checks that the ISO fast path and the general pattern
// interpreter agree on every input.
func FuzzTimePatternFast(f *testing.F) {
	for i, p := range isoPatterns {
		f.Add(uint8(i), "2019-10-01 00:00:00 UTC")
		f.Add(uint8(i), "2019-10-01T00:00:00.123+01:00")
		f.Add(uint8(i), "2019/10/01 00:00")
		f.Add(uint8(i), "2019-10-01 00:00:00,5 Z")
		_ = p
	}
	f.Fuzz(func(t *testing.T, i uint8, s string) {
		tf := MustTimeFormat(isoPatterns[int(i)%len(isoPatterns)])
		fast, fastErr := tf.Parse(s)
		slow, _, reason := tf.parsePattern(s)
		if (fastErr == nil) != (reason == "") {
			t.Fatalf("%q on %q: fast err %v, pattern reason %q", tf, s, fastErr, reason)
		}
		if fastErr == nil && fast != slow {
			t.Fatalf("%q on %q: fast %d, pattern %d", tf, s, fast, slow)
		}
	})
}
