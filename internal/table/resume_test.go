package table_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
)

// TestTableResumeAfter covers a sequence inside the table's stream (the
// next one) and past its end (the first change stored after the position
// was saved), as after the table was created again or its stream lost its
// tail.
func TestTableResumeAfter(t *testing.T) {
	ctx := context.Background()
	tb := createTable(t, newManager(t, enginetest.Start(t)), "resume", hashKey, table.ViewNewImage)
	put := func(i int) uint64 {
		t.Helper()
		res, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"k%d"}`, i)), table.WriteOptions{})
		require.NoError(t, err)
		return res.Seq
	}
	first := put(1)
	put(2)
	saved := time.Now()
	third := put(3)
	last := put(4)

	from, pastEnd, err := tb.ResumeAfter(ctx, first, saved)
	require.NoError(t, err)
	require.False(t, pastEnd)
	require.Equal(t, first+1, from)

	from, pastEnd, err = tb.ResumeAfter(ctx, last, saved)
	require.NoError(t, err)
	require.False(t, pastEnd, "the newest change is inside the stream")
	require.Equal(t, last+1, from)

	from, pastEnd, err = tb.ResumeAfter(ctx, last+5, saved)
	require.NoError(t, err)
	require.True(t, pastEnd)
	require.Equal(t, third, from, "the first change stored after the position was saved")

	from, pastEnd, err = tb.ResumeAfter(ctx, last+5, time.Now())
	require.NoError(t, err)
	require.True(t, pastEnd)
	require.Equal(t, last+1, from, "nothing stored since: the end")
}

// TestTableOpenAfterIndexFailure covers a handle whose index stopped before
// it became ready for a reason other than the table being gone (the
// engine unreachable at its start, say): Open returns that error once and
// then opens the table afresh, rather than returning it until a restart.
func TestTableOpenAfterIndexFailure(t *testing.T) {
	ctx := context.Background()
	eng := enginetest.Start(t)
	tb := createTable(t, newManager(t, eng), "flaky", hashKey, table.ViewNewImage)
	_, err := tb.Put(ctx, it(t, `{"pk":"a"}`), table.WriteOptions{})
	require.NoError(t, err)

	m := newManager(t, eng)
	require.NoError(t, table.CacheFailedHandle(ctx, m, "flaky", errors.New("engine unreachable")))
	_, err = m.Open(ctx, "flaky")
	require.ErrorContains(t, err, "engine unreachable")
	again, err := m.Open(ctx, "flaky")
	require.NoError(t, err)
	got, err := again.Get(ctx, key(t, again, `{"pk":"a"}`), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.NotNil(t, got)
}
