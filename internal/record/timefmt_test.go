package record_test

import (
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
