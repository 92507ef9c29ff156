package table_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// restrict is it with only the named attributes (nil for nil), what a
// projected image must be.
func restrict(it item.Item, names []string) item.Item {
	if it == nil {
		return nil
	}
	out := item.Item{}
	for _, n := range names {
		if v, ok := it[n]; ok {
			out[n] = v
		}
	}
	return out
}

// TestTableChangeProjection holds a subscription with ImageAttrs to one
// without it: every change is the same but for its images, which are the
// whole images restricted to the names, on the feed path, on an engine
// consumer, and for a subscription that catches up from the engine, for
// both image views; Follow projects the items it loads alike.
func TestTableChangeProjection(t *testing.T) {
	e := enginetest.Start(t)
	m := newManager(t, e)
	names := []string{"m", "n", "s", "l", "absent"}
	for _, view := range []table.ViewType{table.ViewNewImage, table.ViewNewAndOldImgs} {
		t.Run(string(view), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tb := createTable(t, m, "proj-"+map[table.ViewType]string{table.ViewNewImage: "new", table.ViewNewAndOldImgs: "both"}[view], hashKey, view)
			start, err := tb.Resolve(ctx, table.Position{Kind: table.Latest})
			require.NoError(t, err)

			subscribe := func(engineOnly bool, opts ...table.SubscribeOption) *table.Subscription {
				t.Helper()
				var s *table.Subscription
				var err error
				if engineOnly {
					s, err = table.SubscribeEngine(ctx, tb, table.Position{Kind: table.AtSeq, Seq: start}, opts...)
				} else {
					s, err = tb.Subscribe(ctx, table.Position{Kind: table.AtSeq, Seq: start}, opts...)
				}
				require.NoError(t, err)
				t.Cleanup(s.Stop)
				return s
			}
			whole := subscribe(false)
			subs := map[string]*table.Subscription{
				"feed":   subscribe(false, table.ImageAttrs(names...)),
				"engine": subscribe(true, table.ImageAttrs(names...)),
			}
			none := subscribe(false, table.ImageAttrs())
			waitFor(t, 10*time.Second, func() error {
				if !table.Attached(subs["feed"]) {
					return fmt.Errorf("the feed subscription is not attached")
				}
				return nil
			})

			k := key(t, tb, `{"pk":"a"}`)
			_, err = tb.Put(ctx, it(t, `{"pk":"a","n":1,"s":"x","extra":"y","m":{"deep":{"l":[1,"two",{"x":null}]},"k":"v"},"l":[1,[2,3]],"ns":{"NS":["1","2"]}}`), table.WriteOptions{})
			require.NoError(t, err)
			_, err = tb.Update(ctx, k, update(t, "SET n = :n, m.deep.y = :n REMOVE s", `{"n":2}`), table.WriteOptions{})
			require.NoError(t, err)
			_, err = tb.Put(ctx, it(t, `{"pk":"b","extra":true}`), table.WriteOptions{}) // none of the names
			require.NoError(t, err)
			_, err = tb.Delete(ctx, k, table.WriteOptions{})
			require.NoError(t, err)
			_, err = tb.Put(ctx, it(t, `{"pk":"a","m":{}}`), table.WriteOptions{})
			require.NoError(t, err)
			const changes = 5

			var want []*table.Change
			for range changes {
				c, err := whole.Next(ctx)
				require.NoError(t, err)
				want = append(want, c)
			}
			require.NotContains(t, want[1].New, "s", "the update removed s")
			if view == table.ViewNewAndOldImgs {
				require.Contains(t, want[1].Old, "s")
			}
			// One that starts after the writes reads them from the engine.
			subs["catch-up"] = subscribe(false, table.ImageAttrs(names...))
			check := func(name string, s *table.Subscription, names []string) {
				t.Helper()
				for i, w := range want {
					c, err := s.Next(ctx)
					require.NoError(t, err)
					require.Equal(t, w.Seq, c.Seq, "%s change %d", name, i)
					require.Equal(t, w.Event, c.Event, "%s change %d", name, i)
					require.Equal(t, plain(w.Keys), plain(c.Keys), "%s change %d", name, i)
					require.Equal(t, w.Time, c.Time, "%s change %d", name, i)
					require.Equal(t, w.Size, c.Size, "%s change %d", name, i)
					require.Equal(t, plain(restrict(w.New, names)), plain(c.New), "%s change %d: new image", name, i)
					require.Equal(t, plain(restrict(w.Old, names)), plain(c.Old), "%s change %d: old image", name, i)
				}
			}
			for name, s := range subs {
				check(name, s, names)
			}
			check("no attributes", none, []string{})

			// Follow loads the items projected, then the changes.
			var loaded []string
			f, err := tb.Follow(ctx, func(i item.Item) error { loaded = append(loaded, plain(i)); return nil }, table.ImageAttrs("m", "extra"))
			require.NoError(t, err)
			defer f.Stop()
			require.Equal(t, []string{`{"m":{}}`, `{"extra":true}`}, loaded)
			_, err = tb.Update(ctx, key(t, tb, `{"pk":"b"}`), update(t, "SET extra = :n, m = :n", `{"n":7}`), table.WriteOptions{})
			require.NoError(t, err)
			c, err := f.Next(ctx)
			require.NoError(t, err)
			require.Equal(t, `{"extra":7,"m":7}`, plain(c.New))
			if view == table.ViewNewAndOldImgs {
				require.Equal(t, `{"extra":true}`, plain(c.Old))
			} else {
				require.Nil(t, c.Old)
			}
		})
	}
}
