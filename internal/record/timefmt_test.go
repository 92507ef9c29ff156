package record_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

func mustTime(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm.UnixNano()
}

func TestTimeFormatParse(t *testing.T) {
	cases := []struct {
		format, in, want string // want in RFC 3339; "" means an error
	}{
		{"", "2019-10-01 00:00:00 UTC", "2019-10-01T00:00:00Z"},
		{"", "2019-10-01T12:34:56Z", "2019-10-01T12:34:56Z"},
		{"", "2019-10-01T12:34:56.123456789+02:00", "2019-10-01T10:34:56.123456789Z"},
		{"", "2019-10-01 12:34", "2019-10-01T12:34:00Z"},
		{"", "2019-10-01", "2019-10-01T00:00:00Z"},
		{"", "2019-10-01T12:34:56-0530", "2019-10-01T18:04:56Z"},
		{"", "2019-10-01 12:34:56 +01", "2019-10-01T11:34:56Z"},
		{"", "2019-02-29 00:00:00", ""},
		{"", "2019-10-01 24:00:00", ""},
		{"", "2019-10-01 00:00:00 PST", ""},
		{"", "1600-01-01", ""},
		{"", "2019-10-01T", ""},
		{"", "nonsense", ""},
		{"rfc3339", "2019-10-01T00:00:00.5Z", "2019-10-01T00:00:00.5Z"},
		{"rfc3339", "2019-10-01 00:00:00 UTC", ""},
		{"yyyy-MM-dd HH:mm:ss z", "2019-10-01 00:00:07 UTC", "2019-10-01T00:00:07Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2019-10-01 00:00:07", ""},
		{"yyyy-MM-dd HH:mm:ss[.SSS] z", "2019-10-01 00:00:07.25 GMT", "2019-10-01T00:00:07.25Z"},
		{"yyyy-MM-dd HH:mm:ss[.SSS] z", "2019-10-01 00:00:07 GMT", "2019-10-01T00:00:07Z"},
		{"dd/MM/yyyy HH:mm", "31/12/2019 23:59", "2019-12-31T23:59:00Z"},
		{"d/M/yyyy", "1/2/2019", "2019-02-01T00:00:00Z"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:36Z"},
		{"EEE, dd MMM yyyy HH:mm:ss z", "Tue, 01 Oct 2019 10:00:00 GMT", "2019-10-01T10:00:00Z"},
		{"MMMM d, yyyy h:mm a", "October 1, 2019 12:05 AM", "2019-10-01T00:05:00Z"},
		{"MMMM d, yyyy h:mm a", "October 1, 2019 1:05 PM", "2019-10-01T13:05:00Z"},
		{"yyyy-MM-dd'T'HH:mm:ssXXX", "2019-10-01T10:00:00+01:00", "2019-10-01T09:00:00Z"},
		{"yyyyMMdd", "20191001", "2019-10-01T00:00:00Z"},
		{"unix_seconds", "1569888000", "2019-10-01T00:00:00Z"},
		{"unix_seconds", "1569888000.5", "2019-10-01T00:00:00.5Z"},
		{"unix_millis", "1569888000123", "2019-10-01T00:00:00.123Z"},
		{"unix_micros", "1569888000123456", "2019-10-01T00:00:00.123456Z"},
		{"unix_nanos", "1569888000123456789", "2019-10-01T00:00:00.123456789Z"},
		{"unix_millis", "abc", ""},
		{"unix_seconds", "99999999999999999", ""},
	}
	for _, c := range cases {
		t.Run(c.format+"/"+c.in, func(t *testing.T) {
			f, err := record.ParseTimeFormat(c.format)
			require.NoError(t, err)
			got, err := f.Parse(c.in)
			if c.want == "" {
				require.Error(t, err)
				var te *record.TimeError
				require.ErrorAs(t, err, &te)
				return
			}
			require.NoError(t, err)
			require.Equal(t, mustTime(t, c.want), got, "got %s", time.Unix(0, got).UTC())
		})
	}
}

func TestTimeFormatFormat(t *testing.T) {
	n := mustTime(t, "2019-10-01T13:05:07.123456789Z")
	cases := []struct{ format, want string }{
		{"", "2019-10-01T13:05:07.123456789Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2019-10-01 13:05:07 UTC"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2019-10-01 13:05:07.123"},
		{"EEE, dd MMM yyyy hh:mm a", "Tue, 01 Oct 2019 01:05 PM"},
		{"unix_millis", "1569935107123"},
		{"unix_seconds", "1569935107"},
	}
	for _, c := range cases {
		f := record.MustTimeFormat(c.format)
		require.Equal(t, c.want, string(f.Format(nil, n)), c.format)
	}
	// pattern output parses back
	f := record.MustTimeFormat("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX")
	back, err := f.Parse(string(f.Format(nil, n)))
	require.NoError(t, err)
	require.Equal(t, n, back)
	// before the epoch
	old := mustTime(t, "1969-12-31T23:59:59.5Z")
	require.Equal(t, "1969-12-31 23:59:59.500", string(record.MustTimeFormat("yyyy-MM-dd HH:mm:ss.SSS").Format(nil, old)))
	// A pattern writes what the time package writes, over the whole range
	// of int64 nanoseconds (weekdays too).
	pat := record.MustTimeFormat("EEE yyyy-MM-dd HH:mm:ss.SSSSSSSSS")
	rng := rand.New(rand.NewPCG(5, 6))
	ns := []int64{0, -1, math.MinInt64, math.MaxInt64}
	for range 4000 {
		n := rng.Int64() >> rng.IntN(40) // near the epoch too
		if rng.IntN(2) == 0 {
			n = -n
		}
		ns = append(ns, n)
	}
	for _, n := range ns {
		want := time.Unix(0, n).UTC().Format("Mon 2006-01-02 15:04:05.000000000")
		require.Equal(t, want, string(pat.Format(nil, n)), "%d", n)
	}
}

func TestTimeFormatErrors(t *testing.T) {
	for _, spec := range []string{"yyyy-qq", "yyy", "[yyyy", "yyyy]", "'abc", "[a[b]]", "SSSSSSSSSS"} {
		_, err := record.ParseTimeFormat(spec)
		require.Error(t, err, spec)
	}
}

func TestTimeFormatDetect(t *testing.T) {
	cases := []struct {
		in, format string
		kind       record.Kind
	}{
		{"2019-10-01 00:00:00 UTC", "yyyy-MM-dd HH:mm:ss z", record.KindTimestamp},
		{"2019-10-01T00:00:00Z", "rfc3339", record.KindTimestamp},
		{"2019-10-01T00:00:00.123+02:00", "rfc3339", record.KindTimestamp},
		{"2019-10-01 00:00:00", "yyyy-MM-dd HH:mm:ss", record.KindTimestamp},
		{"2019-10-01T00:00:00.123456", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", record.KindTimestamp},
		{"2019-10-01 00:00:00+0100", "yyyy-MM-dd HH:mm:ssXX", record.KindTimestamp},
		{"2019/10/01 00:00", "yyyy/MM/dd HH:mm", record.KindTimestamp},
		{"2019-10-01", "yyyy-MM-dd", record.KindDate},
		{"Tue, 01 Oct 2019 10:00:00 GMT", "EEE, dd MMM yyyy HH:mm:ss z", record.KindTimestamp},
		{"10/Oct/2000:13:55:36 -0700", "dd/MMM/yyyy:HH:mm:ss Z", record.KindTimestamp},
	}
	for _, c := range cases {
		f, kind, ok := record.DetectTimeFormat(c.in)
		require.True(t, ok, c.in)
		require.Equal(t, c.format, f.String(), c.in)
		require.Equal(t, c.kind, kind, c.in)
		_, err := f.Parse(c.in)
		require.NoError(t, err)
	}
	for _, s := range []string{"", "view", "44600062", "2103807459595387724", "35.79", "72d76fde-8bb3-4e00-8c23-a032dfed738c", "2019-13-01"} {
		_, _, ok := record.DetectTimeFormat(s)
		require.False(t, ok, s)
	}
}

// AppendRFC3339Nano writes what the time package writes for the same
// instant in UTC, over the whole range of int64 nanoseconds: the epoch's
// edges, days' and years' edges, leap days, fractions with and without
// trailing zeros, and random instants.
func TestTimeFormatAppendRFC3339Nano(t *testing.T) {
	cases := []int64{0, -1, 1, 1e9, -1e9, 999_999_999, 86400e9 - 1, -86400e9, math.MinInt64, math.MaxInt64,
		time.Date(2024, 2, 29, 23, 59, 59, 100, time.UTC).UnixNano(),
		time.Date(2000, 12, 31, 0, 0, 0, 120_000_000, time.UTC).UnixNano(),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC).UnixNano(),
		time.Date(1900, 3, 1, 12, 0, 0, 1, time.UTC).UnixNano()}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		n := rng.Int64()
		switch rng.IntN(3) {
		case 0:
			n -= n % 1e9 // whole seconds
		case 1:
			n -= n % 1e6 // milliseconds
		}
		cases = append(cases, n, -n)
	}
	for _, n := range cases {
		want := time.Unix(0, n).UTC().AppendFormat([]byte("x"), time.RFC3339Nano)
		if got := record.AppendRFC3339Nano([]byte("x"), n); string(got) != string(want) {
			t.Fatalf("AppendRFC3339Nano(%d) = %s, want %s", n, got, want)
		}
	}
	// AppendTimeRFC3339Nano: any time.Time, as its AppendFormat writes it,
	// in UTC or not, within the range of int64 nanoseconds or not.
	zone := time.FixedZone("", -(3*3600 + 30*60))
	times := []time.Time{{}, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1677, 9, 21, 0, 12, 43, 145_224_192, time.UTC), time.Date(2262, 4, 11, 23, 47, 16, 854_775_807, time.UTC),
		time.Date(2026, 11, 27, 19, 49, 59, 100, zone), time.Date(2026, 11, 27, 19, 49, 59, 0, time.Local)}
	for range 1000 {
		times = append(times, time.Unix(0, rng.Int64()).UTC(), time.Unix(rng.Int64N(1<<40), 0).In(zone))
	}
	for _, tm := range times {
		want := tm.AppendFormat([]byte("x"), time.RFC3339Nano)
		if got := record.AppendTimeRFC3339Nano([]byte("x"), tm); string(got) != string(want) {
			t.Fatalf("AppendTimeRFC3339Nano(%v) = %s, want %s", tm, got, want)
		}
	}
}

// BenchmarkRecordRFC3339Nano compares AppendRFC3339Nano with the time
// package's formatting of the same instants.
//
//	go test -run '^$' -bench RecordRFC3339Nano -count 6 ./internal/record/
func BenchmarkRecordRFC3339Nano(b *testing.B) {
	at := time.Date(2026, 11, 27, 19, 49, 59, 123_456_000, time.UTC).UnixNano()
	buf := make([]byte, 0, 64)
	b.Run("impl=time", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			buf = time.Unix(0, at+int64(i)*1e5).UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		}
	})
	b.Run("impl=record", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			buf = record.AppendRFC3339Nano(buf[:0], at+int64(i)*1e5)
		}
	})
}
