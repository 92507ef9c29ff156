package table

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table/item"
)

// forever is a deadline no expiry pass reaches.
var forever = time.Now().Add(time.Hour)

func ttlFixture(t *testing.T, cfg Config, attr string) (*Manager, *Table) {
	t.Helper()
	return pkTable(t, enginetest.Start(t), cfg, Spec{Name: "ttl", StreamView: ViewNewAndOldImgs, TTLAttribute: attr})
}

func ttlPut(t *testing.T, tb *Table, pk string, exp item.Value) {
	t.Helper()
	it := item.Item{"pk": item.StringValue(pk)}
	if exp.IsValid() {
		it["expires_at"] = exp
	}
	_, err := tb.Put(context.Background(), it, WriteOptions{})
	require.NoError(t, err)
}

func ttlKeys(t *testing.T, tb *Table) []string {
	t.Helper()
	page, err := tb.Scan(context.Background(), ScanInput{Consistent: true})
	require.NoError(t, err)
	var keys []string
	for _, it := range page.Items {
		keys = append(keys, it["pk"].S())
	}
	return keys
}

// An item whose TTL attribute holds a passed time (seconds since the
// epoch) is deleted; a later time, a string, a missing attribute or an
// item without it stay. The deletion is a REMOVE marked Expired; a
// writer's own delete is not.
func TestTableTTLExpires(t *testing.T) {
	ctx := context.Background()
	m, tb := ttlFixture(t, Config{}, "expires_at")
	now := time.Unix(1_800_000_000, 0)
	num := func(s string) item.Value {
		n, err := item.ParseNumber(s)
		require.NoError(t, err)
		return item.NumberValue(n)
	}
	ttlPut(t, tb, "past", item.IntValue(now.Unix()-60))
	ttlPut(t, tb, "now", item.IntValue(now.Unix()))
	ttlPut(t, tb, "fraction", num("1799999999.5"))
	ttlPut(t, tb, "future", item.IntValue(now.Unix()+1))
	ttlPut(t, tb, "string", item.StringValue("1"))
	ttlPut(t, tb, "none", item.Value{})
	ttlPut(t, tb, "gone", item.IntValue(now.Unix()+3600))
	_, err := tb.Delete(ctx, item.Key{Partition: item.StringValue("gone")}, WriteOptions{})
	require.NoError(t, err)
	before := tb.lastWrite.Load()

	n, err := m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.ElementsMatch(t, []string{"future", "string", "none"}, ttlKeys(t, tb))

	cs, _, err := tb.ReadChanges(ctx, 1, 100)
	require.NoError(t, err)
	expired := map[string]bool{}
	for _, c := range cs {
		if c.Event != EventRemove {
			require.False(t, c.Expired, "only a REMOVE is marked expired")
			continue
		}
		pk := c.Keys["pk"].S()
		expired[pk] = c.Expired
		require.NotNil(t, c.Old, "the expiry's REMOVE carries the old image")
		if c.Seq > before {
			require.True(t, c.Expired, "the expiry's REMOVE of %s", pk)
		}
	}
	require.Equal(t, map[string]bool{"gone": false, "past": true, "now": true, "fraction": true}, expired)
	require.Equal(t, 3.0, testutil.ToFloat64(m.metrics.expired.WithLabelValues("ttl")))

	// A second pass finds nothing more.
	n, err = m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Zero(t, n)
}

// The pass reads the index in chunks, releasing its lock between them,
// and misses no item at a chunk's edge.
func TestTableTTLChunks(t *testing.T) {
	defer func(n int) { expireChunk = n }(expireChunk)
	expireChunk = 3
	ctx := context.Background()
	m, tb := ttlFixture(t, Config{}, "expires_at")
	now := time.Now()
	var stay []string
	for i := range 20 {
		pk := fmt.Sprintf("k%02d", i)
		exp := now.Unix() - 1
		if i%3 == 0 {
			exp, stay = now.Unix()+3600, append(stay, pk)
		}
		ttlPut(t, tb, pk, item.IntValue(exp))
	}
	n, err := m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Equal(t, 20-len(stay), n)
	require.Equal(t, stay, ttlKeys(t, tb))
}

// A pass stops deleting at its deadline, after one deletion at least,
// and the next pass goes on from there.
func TestTableTTLDeadline(t *testing.T) {
	ctx := context.Background()
	m, tb := ttlFixture(t, Config{}, "expires_at")
	now := time.Now()
	for i := range 5 {
		ttlPut(t, tb, fmt.Sprintf("k%d", i), item.IntValue(now.Unix()-1))
	}
	passed := now.Add(-time.Second)
	for left := 4; left >= 0; left-- {
		n, err := m.expire(ctx, tb, now, passed)
		require.NoError(t, err)
		require.Equal(t, 1, n, "a pass past its deadline deletes one item")
		require.Len(t, ttlKeys(t, tb), left)
	}
}

// UpdateTTL turns expiry on and off; the table's description shows it,
// and a table without a TTL attribute deletes nothing.
func TestTableTTLUpdate(t *testing.T) {
	ctx := context.Background()
	m, tb := ttlFixture(t, Config{}, "")
	now := time.Now()
	ttlPut(t, tb, "a", item.IntValue(now.Unix()-1))
	n, err := m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Zero(t, n, "no TTL attribute: nothing expires")

	info, err := m.UpdateTTL(ctx, "ttl", "expires_at")
	require.NoError(t, err)
	require.Equal(t, "expires_at", info.TTLAttribute)
	info, err = m.Describe(ctx, "ttl")
	require.NoError(t, err)
	require.Equal(t, "expires_at", info.TTLAttribute)
	n, err = m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	ttlPut(t, tb, "b", item.IntValue(now.Unix()-1))
	info, err = m.UpdateTTL(ctx, "ttl", "")
	require.NoError(t, err)
	require.Empty(t, info.TTLAttribute)
	n, err = m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Zero(t, n, "expiry turned off")
	require.Equal(t, []string{"b"}, ttlKeys(t, tb))

	_, err = m.UpdateTTL(ctx, "missing", "x")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = m.UpdateTTL(ctx, "ttl", string(make([]byte, 256)))
	require.ErrorIs(t, err, ErrInvalidArgument)
}

// The compactor deletes expired items on its own pass.
func TestTableTTLCompactorPass(t *testing.T) {
	_, tb := ttlFixture(t, Config{CompactInterval: 50 * time.Millisecond}, "expires_at")
	ttlPut(t, tb, "old", item.IntValue(time.Now().Unix()-1))
	ttlPut(t, tb, "new", item.IntValue(time.Now().Unix()+3600))
	polltest.Until(t, 10*time.Second, func() error {
		if keys := ttlKeys(t, tb); len(keys) != 1 || keys[0] != "new" {
			return fmt.Errorf("items %v", keys)
		}
		return nil
	})
}

// An expired item that another writer stores again before the deletion
// reaches the engine stays: the deletion is conditional on the version
// the pass saw expired being the item's last. Here the index is held from
// applying the other writer's version, so the pass deletes from a stale
// view, as it would when the write lands between its scan and its
// deletion.
func TestTableTTLKeepsAnItemWrittenAgain(t *testing.T) {
	ctx := context.Background()
	e := enginetest.Start(t)
	m, tb := pkTable(t, e, Config{}, Spec{Name: "ttl", TTLAttribute: "expires_at"})
	now := time.Now()
	ttlPut(t, tb, "a", item.IntValue(now.Unix()-1))
	ttlPut(t, tb, "b", item.IntValue(now.Unix()-1))

	other, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	tb2, err := other.Open(ctx, "ttl")
	require.NoError(t, err)

	tb.ix.amu.Lock() // the applier, and any acknowledged write, wait
	locked := true
	defer func() {
		if locked {
			tb.ix.amu.Unlock()
		}
	}()
	_, err = tb2.Put(ctx, item.Item{"pk": item.StringValue("a"), "expires_at": item.IntValue(now.Unix() + 3600)}, WriteOptions{})
	require.NoError(t, err)
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() {
		n, err := tb.deleteExpired(ctx, []string{string(compactKey("a").AppendOrdered(nil))}, "expires_at", now, forever)
		got <- result{n, err}
	}()
	select {
	case r := <-got:
		require.NoError(t, r.err)
		require.Zero(t, r.n, "a's deletion is refused: the engine holds a newer version")
	case <-time.After(10 * time.Second):
		t.Fatal("the deletion did not end")
	}
	tb.ix.amu.Unlock()
	locked = false

	n, err := m.expire(ctx, tb, now, forever)
	require.NoError(t, err)
	require.Equal(t, 1, n, "b goes")
	require.Equal(t, []string{"a"}, ttlKeys(t, tb))
}
