package record_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// Bits and FromBits carry the fixed-width kinds' values through a word
// and back, and nothing else.
func TestValueBits(t *testing.T) {
	for _, v := range []record.Value{record.BoolValue(true), record.BoolValue(false), record.IntValue(-7), record.IntValue(1 << 30),
		record.LongValue(-1 << 62), record.DoubleValue(-0.0), record.DoubleValue(35.79), record.DoubleValue(math.Inf(-1)),
		record.TimestampNanos(-1), record.TimestampNanos(1_700_000_000_123_456_789), record.DateValue(-719162)} {
		require.True(t, v.Kind().FixedWidth(), "%v", v)
		got := record.FromBits(v.Kind(), v.Bits())
		require.True(t, v.Equal(got), "%v: %v", v, got)
		require.Equal(t, v.Kind(), got.Kind())
		require.Equal(t, v.Bits(), got.Bits(), "%v", v)
	}
	n := record.NumberValue(19.9, "19.90")
	require.Equal(t, math.Float64bits(19.9), n.Bits())
	require.Empty(t, record.FromBits(record.KindDouble, n.Bits()).NumberText(), "the source text is not in the bits")
	for _, v := range []record.Value{record.StringValue("x"), record.NullValue(), record.DecimalValue(5, 1)} {
		require.False(t, v.Kind().FixedWidth(), "%v", v)
		require.Zero(t, v.Bits(), "%v", v)
		require.True(t, record.FromBits(v.Kind(), 42).IsNull(), "%v", v.Kind())
	}
	require.True(t, record.FromBits(record.KindBool, 7).Equal(record.BoolValue(true)))
	require.True(t, record.FromBits(record.KindInt, uint64(1)<<40|5).Equal(record.IntValue(5)))
}
