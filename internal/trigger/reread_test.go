package trigger_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

// widening is a Go function that names the attributes it reads and can be
// made to need one more at run time, as the pricing function does when a
// model with other inputs is deployed: it then names it too, and returns
// ErrReread for records decoded without it.
type widening struct {
	mu    sync.Mutex
	attrs []string // what ImageAttrs answers
	need  string   // an attribute it needs besides attrs ("" none)
	got   []string // the new image of each record done, as plain JSON
	seen  [][]string
	// never: return ErrReread whatever the records hold.
	never bool
}

func (f *widening) ImageAttrs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attrs)
}

func (f *widening) Invoke(_ context.Context, b *trigger.Batch) (trigger.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.never {
		return trigger.Response{}, fmt.Errorf("widening: %w", trigger.ErrReread)
	}
	for _, r := range b.Records {
		f.seen = append(f.seen, r.Change.Projected)
		if f.need != "" && !slices.Contains(r.Change.Projected, f.need) {
			if !slices.Contains(f.attrs, f.need) {
				f.attrs = append(f.attrs, f.need)
			}
			return trigger.Response{}, fmt.Errorf("widening: %w", trigger.ErrReread)
		}
	}
	for _, r := range b.Records {
		f.got = append(f.got, string(r.Change.NewImage.AppendPlainJSON(nil)))
	}
	return trigger.Response{}, nil
}

func (f *widening) wait(t *testing.T, n int) []string { return waitGot(t, &f.mu, &f.got, n) }

// TestTriggerTableReread: a function that comes to need an attribute its
// records were decoded without returns ErrReread, and the trigger reads
// those records again, decoded with what the function names now: each is
// done once, with the attribute, and no failure is counted. A function
// that asks again without any record done in between is failing, and
// the trigger backs off rather than spin.
func TestTriggerTableReread(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.tables.Create(ctx, table.Spec{Name: "rows",
		Key: item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}})
	require.NoError(t, err)
	tb, err := e.tables.Open(ctx, "rows")
	require.NoError(t, err)
	put := func(pk string, price int) {
		t.Helper()
		it, err := item.ParseJSON(fmt.Appendf(nil, `{"pk":%q,"price":%d,"cat":"c%d"}`, pk, price, price), "")
		require.NoError(t, err)
		_, err = tb.Put(ctx, it, table.WriteOptions{})
		require.NoError(t, err)
	}

	f := &widening{attrs: []string{"price"}}
	require.NoError(t, e.fns.Register("widening", f))
	e.apply("name: widening\nsource: table:rows\nfunction: go:widening\n")
	put("a", 1)
	put("b", 2)
	require.Equal(t, []string{`{"price":1}`, `{"price":2}`}, f.wait(t, 2))

	f.mu.Lock()
	f.need = "cat"
	f.mu.Unlock()
	put("c", 3)
	put("d", 4)
	require.Equal(t, []string{`{"price":1}`, `{"price":2}`, `{"cat":"c3","price":3}`, `{"cat":"c4","price":4}`}, f.wait(t, 4))
	f.mu.Lock()
	require.Contains(t, f.seen, []string{"price"}, "a record decoded before the function widened")
	require.Equal(t, []string{"cat", "price"}, f.seen[len(f.seen)-1], "the records read again")
	f.mu.Unlock()
	requireCounter(t, e, "pricestream_trigger_rereads_total", 1)
	require.Zero(t, counterValue(t, e, "pricestream_trigger_errors_total"))
	require.Zero(t, counterValue(t, e, "pricestream_trigger_records_dropped_total"))

	// A function that always asks: one reread, then it is failing.
	n := &widening{attrs: []string{"price"}, never: true}
	require.NoError(t, e.fns.Register("never", n))
	e.apply("name: never\nsource: table:rows\nfunction: go:never\n")
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(ctx, "never")
		if err != nil {
			return err
		}
		if st.Partitions[0].State != "error" || !strings.Contains(st.Partitions[0].Error, "read again") {
			return fmt.Errorf("partition %s: %s", st.Partitions[0].State, st.Partitions[0].Error)
		}
		return nil
	})
	requireCounter(t, e, "pricestream_trigger_rereads_total", 2)
}
