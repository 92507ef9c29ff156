package etl

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table/item"
)

// byteSource reads a generator's choices from bytes (zeros once they run
// out), so that a fuzzer's input and a seeded random stream make records
// alike.
type byteSource struct{ b []byte }

func (s *byteSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *byteSource) u64() uint64 {
	var w [8]byte
	n := copy(w[:], s.b)
	s.b = s.b[n:]
	return binary.LittleEndian.Uint64(w[:])
}

func (s *byteSource) text(max int) string {
	n := min(int(s.byte())%(max+1), len(s.b))
	t := string(s.b[:n])
	s.b = s.b[n:]
	return t
}

// genNames are the field names records are mostly made of: some sharing
// their first eight bytes, the empty name, and names that sort apart from
// their field order.
var genNames = []string{"product_id", "views", "views_1h", "window_start", "window_end", "final", "a", "b", "", "zz", "price", "price_ratio", "ingest_time", "\xff", "A"}

// genRecord makes a record of up to 15 fields (names may repeat) from src,
// nesting at most depth levels more.
func genRecord(src *byteSource, depth int) *record.Record {
	n := int(src.byte() % 16)
	r := record.New(n)
	for range n {
		name := genNames[int(src.byte())%len(genNames)]
		if src.byte()%8 == 0 {
			name = src.text(12)
		}
		r.Append(name, genValue(src, depth))
	}
	return r
}

// genValue makes a value of any kind itemValue converts, with the edges
// of each: NaN, infinities, magnitudes beyond an item number's, -0,
// decimals of more digits than a number holds, any instant and date.
func genValue(src *byteSource, depth int) record.Value {
	switch k := src.byte() % 17; k {
	case 0:
		return record.NullValue()
	case 1:
		return record.BoolValue(src.byte()%2 == 1)
	case 2:
		return record.IntValue(int32(src.u64()))
	case 3:
		return record.LongValue(int64(src.u64()))
	case 4:
		return record.DoubleValue(math.Float64frombits(src.u64())) // any double: NaN, ±Inf, subnormal, 1e300
	case 5:
		return record.DoubleValue(float64(int64(src.u64())%1_000_000) / 100) // prices
	case 6:
		specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1e125, 1e126, 1e-129, 1e-130, 5e-324, math.MaxFloat64, 0.1, 1e21, 123456789012345678}
		f := specials[int(src.byte())%len(specials)]
		return record.NumberValue(f, "1.50") // the text kept does not count
	case 7:
		return record.DecimalValue(int64(src.u64()), int(src.byte()%39))
	case 8:
		digits := new(big.Int).SetUint64(src.u64())
		digits.Mul(digits, new(big.Int).SetUint64(src.u64()|1))
		digits.Mul(digits, new(big.Int).SetUint64(src.u64()|1))
		if src.byte()%2 == 1 {
			digits.Neg(digits)
		}
		return record.DecimalBig(digits, int(src.byte()%39))
	case 9:
		return record.StringValue(src.text(40))
	case 10:
		return record.BinaryValue([]byte(src.text(20)))
	case 11:
		return record.TimestampNanos(int64(src.u64()))
	case 12:
		return record.TimestampValue(time.Date(2026, 11, 26, 8, int(src.byte()%60), int(src.byte()%60), int(src.u64()%1e9), time.UTC))
	case 13:
		return record.DateValue(int64(src.u64()) % 10_000_000)
	case 14, 15, 16:
		if depth <= 0 {
			return record.StringValue("leaf")
		}
		switch k {
		case 14:
			return record.StructValue(genRecord(src, depth-1))
		case 15:
			return record.MapValue(genRecord(src, depth-1))
		}
		arr := make([]record.Value, src.byte()%5)
		for i := range arr {
			arr[i] = genValue(src, depth-1)
		}
		return record.ArrayValue(arr)
	}
	panic("unreachable")
}

// checkBinItem holds appendBinItem to the item it stands for: the bytes
// of itemOf(r).AppendBinary, appended after what dst holds.
func checkBinItem(t *testing.T, r *record.Record) {
	t.Helper()
	want, err := itemOf(r).AppendBinary([]byte("prefix"))
	require.NoError(t, err)
	got := appendBinItem([]byte("prefix"), r)
	if !bytes.Equal(want, got) {
		t.Fatalf("record %s:\nappendBinItem %q\nitemOf        %q", r, got, want)
	}
	// The encoder that remembers the order: once to learn it, once with
	// it, and after another record's fields.
	for range 2 {
		if got := testEncoder.appendItem([]byte("prefix"), r); !bytes.Equal(want, got) {
			t.Fatalf("record %s:\nbinItemEncoder %q\nitemOf         %q", r, got, want)
		}
	}
}

// testEncoder encodes every record checkBinItem checks, one after another.
var testEncoder binItemEncoder

func TestETLItemBinaryMatchesItemOf(t *testing.T) {
	// A window row as the sink gets it.
	row := record.New(16)
	row.Append("product_id", record.StringValue("44600062"))
	row.Append("views", record.LongValue(12))
	row.Append("purchases", record.LongValue(0))
	row.Append("revenue", record.DoubleValue(71.58))
	row.Append("price", record.NumberValue(35.79, "35.790"))
	row.Append("conversion", record.DoubleValue(math.NaN()))
	row.Append("window_start", record.TimestampNanos(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).UnixNano()))
	row.Append("window_end", record.TimestampNanos(time.Date(2026, 11, 26, 8, 1, 40, 0, time.UTC).UnixNano()))
	row.Append("final", record.BoolValue(false))
	row.Append("source_position", record.StringValue("0:1234:0"))
	row.Append("ingest_time", record.TimestampNanos(time.Date(2026, 11, 26, 8, 1, 3, 123456789, time.UTC).UnixNano()))
	checkBinItem(t, row)

	// Duplicate names keep the last, at every level; more fields than
	// the insertion sort takes.
	dup := record.New(4)
	dup.Append("b", record.LongValue(1))
	dup.Append("a", record.LongValue(2))
	dup.Append("b", record.StructValue(dup.Alloc()))
	dup.Append("a", record.StringValue("last"))
	checkBinItem(t, dup)
	wide := record.New(100)
	for i := range 100 {
		wide.Append(genNames[(i*7)%len(genNames)]+string(rune('a'+i%26)), record.LongValue(int64(i)))
	}
	checkBinItem(t, wide)
	checkBinItem(t, record.New(0))

	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 512)
	for range 20_000 {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		checkBinItem(t, genRecord(&byteSource{b: buf}, 3))
	}
}

// FuzzETLItemBinary holds appendBinItem to itemOf and the item's
// encoding for records made from the fuzzer's bytes (genRecord); its
// corpus is in testdata/fuzz/FuzzETLItemBinary.
func FuzzETLItemBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r := genRecord(&byteSource{b: data}, 3)
		checkBinItem(t, r)
		if _, err := item.DecodeBinary(appendBinItem(nil, r)); err != nil {
			t.Fatalf("record %s: %v", r, err)
		}
	})
}

func TestETLItemBinaryAllocs(t *testing.T) {
	row := record.New(16)
	row.Append("product_id", record.StringValue("44600062"))
	row.Append("views", record.LongValue(12))
	row.Append("revenue", record.DoubleValue(71.58))
	row.Append("price", record.DecimalValue(3579, 2))
	row.Append("window_end", record.TimestampNanos(time.Date(2026, 11, 26, 8, 1, 40, 0, time.UTC).UnixNano()))
	row.Append("day", record.DateValue(20_000))
	row.Append("final", record.BoolValue(false))
	row.Append("tags", record.ArrayValue([]record.Value{record.StringValue("a"), record.NullValue()}))
	nested := record.New(2)
	nested.Append("y", record.LongValue(1))
	nested.Append("x", record.BinaryString("\x00\x01"))
	row.Append("attrs", record.StructValue(nested))
	dst := appendBinItem(nil, row)
	allocs := testing.AllocsPerRun(100, func() { dst = appendBinItem(dst[:0], row) })
	require.Zero(t, allocs, "encoding into a buffer with room allocates nothing")
	var e binItemEncoder
	dst = e.appendItem(dst[:0], row)
	allocs = testing.AllocsPerRun(100, func() { dst = e.appendItem(dst[:0], row) })
	require.Zero(t, allocs, "nor does the encoder, once it knows the fields")
}

// BenchmarkETLItemBinary encodes a click-features row (the table sink's,
// once per event) to its binary item: straight from the record, beside
// the item map and its encoding it replaces.
func BenchmarkETLItemBinary(b *testing.B) {
	row := record.New(24)
	row.Append("product_id", record.StringValue("44600062"))
	for _, name := range []string{"views", "clicks", "add_to_carts", "purchases", "sessions", "views_5m", "views_1h", "purchases_1h"} {
		row.Append(name, record.LongValue(int64(len(name))*7))
	}
	row.Append("users", record.LongValue(31))
	row.Append("revenue", record.DoubleValue(71.58))
	row.Append("price", record.NumberValue(35.79, "35.79"))
	row.Append("base_price", record.DoubleValue(39.99))
	row.Append("inventory", record.LongValue(420))
	row.Append("conversion", record.DoubleValue(0.0342))
	row.Append("trend", record.DoubleValue(1.0833333333333333))
	row.Append("window_start", record.TimestampNanos(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).UnixNano()))
	row.Append("window_end", record.TimestampNanos(time.Date(2026, 11, 26, 8, 1, 40, 0, time.UTC).UnixNano()))
	row.Append("final", record.BoolValue(false))
	row.Append("source_position", record.StringValue("3:1234567:12"))
	row.Append("ingest_time", record.TimestampNanos(time.Date(2026, 11, 26, 8, 1, 3, 123456789, time.UTC).UnixNano()))
	b.Run("item", func(b *testing.B) {
		var dst []byte
		b.ReportAllocs()
		for b.Loop() {
			dst, _ = itemOf(row).AppendBinary(dst[:0])
		}
		b.SetBytes(int64(len(dst)))
	})
	b.Run("direct", func(b *testing.B) {
		var dst []byte
		b.ReportAllocs()
		for b.Loop() {
			dst = appendBinItem(dst[:0], row)
		}
		b.SetBytes(int64(len(dst)))
	})
	b.Run("encoder", func(b *testing.B) { // the sink's: the name order is known
		var e binItemEncoder
		var dst []byte
		b.ReportAllocs()
		for b.Loop() {
			dst = e.appendItem(dst[:0], row)
		}
		b.SetBytes(int64(len(dst)))
	})
}
