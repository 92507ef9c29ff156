package record

// The two timestamp texts click events carry, read without the flexible
// ISO scanner: `2019-10-01T00:00:10Z` (RFC 3339 in UTC, whole seconds) and
// `2019-10-01 00:00:10 UTC` (the form of real exports). A typed JSON decode
// casts a timestamp column's string with [TimeFormat.Parse], about 490
// instructions per event through the scanner's shape tracking, the cast's
// dispatch and the range checks; this reads the fixed positions directly.

// fastInstant returns the instant of s in the format f when s is one of
// the two forms above and f reads it as the flexible ISO scanner does (the
// default format reads both, rfc3339 the first), with ok false for any
// other text, or a field out of range, which the caller gives to
// [TimeFormat.Parse] (for its result or its error).
func fastInstant(f TimeFormat, s string) (nanos int64, ok bool) {
	switch len(s) {
	case 20: // yyyy-MM-ddTHH:mm:ssZ
		if f.kind != timeAuto && f.kind != timeRFC3339 || s[10] != 'T' || s[19] != 'Z' {
			return 0, false
		}
	case 23: // yyyy-MM-dd HH:mm:ss UTC
		if f.kind != timeAuto || s[10] != ' ' || s[19] != ' ' || s[20] != 'U' || s[21] != 'T' || s[22] != 'C' {
			return 0, false
		}
	default:
		return 0, false
	}
	if s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	_ = s[19]
	// Each digit checked: a byte below '0' wraps to a large value.
	y0, y1, y2, y3 := s[0]-'0', s[1]-'0', s[2]-'0', s[3]-'0'
	m0, m1, d0, d1 := s[5]-'0', s[6]-'0', s[8]-'0', s[9]-'0'
	h0, h1, i0, i1, s0, s1 := s[11]-'0', s[12]-'0', s[14]-'0', s[15]-'0', s[17]-'0', s[18]-'0'
	if y0 > 9 || y1 > 9 || y2 > 9 || y3 > 9 || m0 > 9 || m1 > 9 || d0 > 9 || d1 > 9 ||
		h0 > 9 || h1 > 9 || i0 > 9 || i1 > 9 || s0 > 9 || s1 > 9 {
		return 0, false
	}
	y := int64(y0)*1000 + int64(y1)*100 + int64(y2)*10 + int64(y3)
	mo, day := int64(m0)*10+int64(m1), int64(d0)*10+int64(d1)
	h, mi, sec := int64(h0)*10+int64(h1), int64(i0)*10+int64(i1), int64(s0)*10+int64(s1)
	if y < minYear || y > maxYear || mo < 1 || mo > 12 || day < 1 || day > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	return (daysFromCivil(y, mo, day)*86400 + h*3600 + mi*60 + sec) * 1e9, true
}
