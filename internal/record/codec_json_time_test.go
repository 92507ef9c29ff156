package record

import (
	"testing"
)

// TestJSONFastInstant: the timestamp fast path reads what TimeFormat.Parse
// reads, and declines (for Parse to give the error) what Parse rejects or
// what the format does not read that way.
func TestJSONFastInstant(t *testing.T) {
	auto, rfc := TimeFormat{}, MustParseType("timestamp('rfc3339')").Format
	pattern := MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')").Format
	for _, tc := range []struct {
		f    TimeFormat
		s    string
		fast bool
	}{
		{auto, "2019-10-01T00:00:10Z", true},
		{auto, "2019-10-01 00:00:10 UTC", true},
		{rfc, "2019-10-01T00:00:10Z", true},
		{rfc, "2019-10-01 00:00:10 UTC", false}, // not RFC 3339: Parse's error
		{pattern, "2019-10-01 00:00:10 UTC", false},
		{auto, "2020-02-29T23:59:59Z", true},
		{auto, "2019-02-29T00:00:00Z", false}, // no such day
		{auto, "2019-13-01T00:00:00Z", false},
		{auto, "2019-10-01T24:00:00Z", false},
		{auto, "2019-10-01T00:60:00Z", false},
		{auto, "2019-10-01T00:00:60Z", false},
		{auto, "1677-12-31T23:59:59Z", false},
		{auto, "2262-01-01T00:00:00Z", false},
		{auto, "2019-10-01t00:00:10Z", false}, // Parse reads it; the fast path leaves it
		{auto, "2019-10-01T00:00:10+00", false},
		{auto, "2019-1a-01T00:00:10Z", false},
		{auto, "2019/10/01T00:00:10Z", false},
		{auto, "2019-10-01 00:00:10 GMT", false},
		{auto, "1970-01-01T00:00:00Z", true},
		{auto, "1969-12-31 23:59:59 UTC", true},
	} {
		n, ok := fastInstant(tc.f, tc.s)
		if ok != tc.fast {
			t.Errorf("fastInstant(%q, %q): ok %v, want %v", tc.f, tc.s, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		want, err := tc.f.Parse(tc.s)
		if err != nil || n != want {
			t.Errorf("fastInstant(%q, %q) = %d; Parse gives %d, %v", tc.f, tc.s, n, want, err)
		}
	}
}

// FuzzJSONFastInstant: whatever the fast path reads, TimeFormat.Parse
// reads the same in each format the fast path serves.
func FuzzJSONFastInstant(f *testing.F) {
	for _, s := range []string{"2019-10-01T00:00:10Z", "2019-10-01 00:00:10 UTC", "2020-02-29T23:59:59Z", "2261-12-31 23:59:59 UTC", "1678-01-01T00:00:00Z", "2019-10-01T00:00:10+01:00"} {
		f.Add(s)
	}
	formats := []TimeFormat{{}, MustParseType("timestamp('rfc3339')").Format, MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')").Format}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tf := range formats {
			n, ok := fastInstant(tf, s)
			if !ok {
				continue
			}
			want, err := tf.Parse(s)
			if err != nil || n != want {
				t.Fatalf("fastInstant(%q, %q) = %d; Parse gives %d, %v", tf, s, n, want, err)
			}
		}
	})
}
