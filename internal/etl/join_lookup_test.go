package etl

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestETLJoinPrune checks which fields joins set: all without a window;
// before a window, those the window's keys, event time and aggregates, or
// a later join's on, read.
func TestETLJoinPrune(t *testing.T) {
	const head = `
name: j
source:
  stream: clicks
  event_time: event_time
  schema:
    - {name: event_time, type: timestamp}
    - {name: product_id, type: string}
    - {name: a, type: string}
joins:
  - table: t1
    on: product_id
    fields:
      - {name: f1, type: double}
      - {name: f2, type: string}
      - {name: f3, type: string, as: event_time}
      - {name: f4, type: string, as: a}
  - table: t2
    on: f2
    fields: [{name: g1, type: string}, {name: g2, type: long}]
    position_field: seen
`
	for _, tc := range []struct {
		name, tail string
		live       [][]bool
	}{
		{"no window", "sink: {table: out}\ndead_letter: d\n",
			[][]bool{{true, true, true, true, true}, {true, true, true}}},
		{"window", `window:
  key: [product_id]
  aggregates:
    - {name: n, count_if: 'g1 == "x"'}
    - {name: l, last: f1}
sink: {table: out}
dead_letter: d
`, [][]bool{{true, true, true, false, false}, {true, false, false}}},
		{"window on paths", `window:
  key: [a]
  aggregates:
    - {name: n, count: true}
    - {name: s, sum: 'g2 * 2'}
    - {name: m, max: 'f2 + "!"'}
sink: {table: out}
dead_letter: d
`, [][]bool{{false, true, true, true, false}, {false, true, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Decode([]byte(head + tc.tail))
			require.NoError(t, err)
			p, err := Compile(context.Background(), spec, nil)
			require.NoError(t, err)
			require.Len(t, p.joinOuts, len(tc.live))
			for i, jo := range p.joinOuts {
				require.Equal(t, tc.live[i], jo.live, "joins[%d] %v", i, jo.names)
			}
		})
	}
}
