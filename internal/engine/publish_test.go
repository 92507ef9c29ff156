package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
)

func TestEnginePubAck(t *testing.T) {
	cases := []struct {
		in         string
		seq        uint64
		wrongLast  bool
		errorMatch string
	}{
		{in: `{"stream":"PS_table_products","seq":42}`, seq: 42},
		{in: `{"stream":"S","domain":"hub","seq":7,"duplicate":true}`, seq: 7},
		{in: `{"stream":"error","seq":9}`, seq: 9},
		{in: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"S","seq":0}`, wrongLast: true, errorMatch: "wrong last sequence: 3"},
		{in: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`, errorMatch: "maximum messages exceeded"},
		{in: `{"stream":"S"}`, errorMatch: "without a sequence"},
		{in: `not json`, errorMatch: "bad publish acknowledgement"},
	}
	for _, c := range cases {
		seq, err := engine.ParsePubAck([]byte(c.in))
		if c.errorMatch != "" {
			require.ErrorContains(t, err, c.errorMatch, c.in)
			require.Equal(t, c.wrongLast, engine.IsWrongLastSeq(err), c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.seq, seq, c.in)
	}
}
