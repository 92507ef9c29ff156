package table_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
)

// feedWorkload writes ops random operations from 4 writers over keys
// items: puts, updates, deletes, conditional writes that fail, and
// transactions over several items, some of them canceled. It calls
// progress after each of its operations with how many it has done.
func feedWorkload(t *testing.T, m *table.Manager, tb *table.Table, keys, ops int, seed uint64, progress func(done int)) {
	t.Helper()
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			k := func() string { return fmt.Sprintf(`{"pk":"k%03d"}`, r.IntN(keys)) }
			for i := range ops / 4 {
				var err error
				switch n := r.IntN(100); {
				case n < 25:
					_, err = tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"k%03d","v":%d,"w":%d}`, r.IntN(keys), r.IntN(5), w)), table.WriteOptions{})
				case n < 40:
					// An asynchronous put, which the index applies from its
					// acknowledgement when it is the stream's next message.
					b, merr := it(t, fmt.Sprintf(`{"pk":"k%03d","v":%d,"w":%d}`, r.IntN(keys), r.IntN(5), w)).MarshalBinary()
					require.NoError(t, merr)
					errc := make(chan error, 1)
					tb.PutEncodedAsync(b, func(_ uint64, err error) { errc <- err })
					err = <-errc
				case n < 65:
					_, err = tb.Update(ctx, key(t, tb, k()), update(t, "ADD n :one SET w = :w", fmt.Sprintf(`{"one":1,"w":%d}`, w)), table.WriteOptions{})
				case n < 80:
					_, err = tb.Delete(ctx, key(t, tb, k()), table.WriteOptions{})
				case n < 85:
					_, err = tb.Put(ctx, it(t, k()), table.WriteOptions{Condition: cond(t, "attribute_not_exists(pk)", "")})
				default:
					var acts []table.TransactAction
					seen := map[string]bool{}
					for range 2 + r.IntN(3) {
						js := k()
						if seen[js] {
							continue
						}
						seen[js] = true
						a := table.TransactAction{Table: tb, Kind: table.TransactUpdate, Key: key(t, tb, js), Update: update(t, "ADD t :one", `{"one":1}`)}
						switch r.IntN(4) {
						case 0:
							a = table.TransactAction{Table: tb, Kind: table.TransactDelete, Key: key(t, tb, js)}
						case 1:
							// Sometimes false: the transaction is canceled.
							a.Condition = cond(t, "attribute_not_exists(v) OR v < :three", `{"three":3}`)
						}
						acts = append(acts, a)
					}
					err = m.TransactWrite(ctx, acts)
				}
				if err != nil && !errors.Is(err, table.ErrConditionFailed) && !errors.Is(err, table.ErrTransactionCanceled) &&
					!errors.Is(err, table.ErrConflict) {
					t.Errorf("writer %d op %d: %v", w, i, err)
					return
				}
				mu.Lock()
				done++
				d := done
				mu.Unlock()
				if progress != nil {
					progress(d)
				}
			}
		})
	}
	wg.Wait()
}

// readAll reads the table's whole change history with ReadChanges: what
// the engine stores, the truth subscriptions are compared with.
func readAll(t *testing.T, tb *table.Table) []*table.Change {
	t.Helper()
	var out []*table.Change
	for from := uint64(1); ; {
		cs, next, err := tb.ReadChanges(context.Background(), from, 1000)
		require.NoError(t, err)
		if len(cs) == 0 {
			return out
		}
		out, from = append(out, cs...), next
	}
}

func since(cs []*table.Change, seq uint64) []*table.Change {
	for i, c := range cs {
		if c.Seq >= seq {
			return cs[i:]
		}
	}
	return nil
}

// TestTableFeedEquivalence checks that subscriptions served by the table
// index's in-process feed deliver exactly what an engine consumer of the
// table's stream delivers (the same changes, sequences, images and order,
// without lock markers) under a random workload: a reader from the start,
// one from the latest change, one that starts in the past while writes go
// on, and one that stalls until the feed drops it, then reads from the
// engine and rejoins the feed.
func TestTableFeedEquivalence(t *testing.T) {
	for _, view := range []table.ViewType{table.ViewNone, table.ViewNewAndOldImgs} {
		t.Run("view="+string(view), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			e := enginetest.Start(t, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
			m := newManager(t, e)
			tb := createTable(t, m, "feed", hashKey, view)
			// Some history before the readers start.
			feedWorkload(t, m, tb, 50, 200, 1, nil)

			engineSub, err := table.SubscribeEngine(ctx, tb, table.Position{Kind: table.TrimHorizon})
			require.NoError(t, err)
			defer engineSub.Stop()
			require.False(t, table.Attached(engineSub))
			fromStart, err := tb.Subscribe(ctx, table.Position{Kind: table.TrimHorizon})
			require.NoError(t, err)
			defer fromStart.Stop()
			latest, err := tb.Subscribe(ctx, table.Position{Kind: table.Latest})
			require.NoError(t, err)
			defer latest.Stop()
			require.True(t, table.Attached(latest), "a subscription from the latest change reads from the feed")
			latestFrom, err := tb.Resolve(ctx, table.Position{Kind: table.Latest})
			require.NoError(t, err)
			stalled, err := tb.Subscribe(ctx, table.Position{Kind: table.Latest})
			require.NoError(t, err)
			defer stalled.Stop()
			stalledFrom := latestFrom

			// The readers read concurrently with the writes; each reads
			// until the last change once the writes have ended.
			type result struct {
				cs  []*table.Change
				err error
			}
			var (
				wg       sync.WaitGroup
				lastSeq  uint64
				lastDone = make(chan struct{})
			)
			read := func(s *table.Subscription, res *result) {
				wg.Go(func() {
					var last uint64
					for last == 0 || len(res.cs) == 0 || res.cs[len(res.cs)-1].Seq < last {
						cctx, ccancel := context.WithTimeout(ctx, 50*time.Millisecond)
						cs, err := s.NextBatch(cctx, 100)
						ccancel()
						if err != nil && !errors.Is(err, context.DeadlineExceeded) {
							res.err = err
							return
						}
						res.cs = append(res.cs, cs...)
						if last == 0 {
							select {
							case <-lastDone:
								last = lastSeq
							default:
							}
						}
					}
				})
			}
			var engineRes, startRes, latestRes, pastRes, stalledRes result
			read(engineSub, &engineRes)
			read(fromStart, &startRes)
			read(latest, &latestRes)

			// A reader that starts in the past while the writes go on, and
			// the stalled reader, which reads once the feed dropped it.
			var (
				pastOnce, stallOnce sync.Once
				past                *table.Subscription
				pastFrom            uint64
				dropped             bool
			)
			defer func() {
				if past != nil {
					past.Stop()
				}
			}()
			const ops = 3000
			feedWorkload(t, m, tb, 300, ops, 2, func(done int) {
				if done >= ops/3 {
					pastOnce.Do(func() {
						st, err := tb.StreamState(ctx)
						if err != nil {
							t.Error(err)
							return
						}
						pastFrom = st.LastSeq / 2
						if past, err = tb.Subscribe(ctx, table.Position{Kind: table.AtSeq, Seq: pastFrom}); err != nil {
							t.Error(err)
							return
						}
						read(past, &pastRes)
					})
				}
				if !table.Attached(stalled) {
					stallOnce.Do(func() {
						dropped = true
						if n := table.Buffered(stalled); n != 1024 {
							t.Errorf("a dropped reader's buffer holds %d changes, want 1024", n)
						}
						read(stalled, &stalledRes)
					})
				}
			})
			require.NotNil(t, past)
			require.True(t, dropped, "the stalled reader was dropped by the feed (%d changes buffered)", table.Buffered(stalled))
			truth := readAll(t, tb)
			lastSeq = truth[len(truth)-1].Seq
			close(lastDone)
			wg.Wait()

			for name, r := range map[string]result{"engine consumer": engineRes, "from the start": startRes, "latest": latestRes, "past": pastRes, "stalled": stalledRes} {
				require.NoError(t, r.err, name)
			}
			require.Greater(t, len(truth), 2000)
			require.Equal(t, truth, engineRes.cs, "the engine consumer delivers what the engine stores")
			require.Equal(t, truth, startRes.cs, "from the start")
			require.Equal(t, since(truth, latestFrom), latestRes.cs, "from the latest")
			require.Equal(t, since(truth, pastFrom), pastRes.cs, "from the past")
			require.Equal(t, since(truth, stalledFrom), stalledRes.cs, "stalled, then from the engine, then the feed")
			// Readers that caught up read from the feed again.
			for name, s := range map[string]*table.Subscription{"past": past, "stalled": stalled, "from the start": fromStart} {
				waitFor(t, 10*time.Second, func() error {
					if !table.Attached(s) {
						return fmt.Errorf("%s: not attached to the feed", name)
					}
					return nil
				})
			}
			if view == table.ViewNewAndOldImgs {
				var olds int
				for _, c := range truth {
					if c.Old != nil {
						olds++
					}
				}
				require.NotZero(t, olds, "old images are delivered")
			}
		})
	}
}

// TestTableFeedStop checks that Stop ends a subscription wherever its
// goroutine is: attached to the feed with its reader blocked in Next,
// reading from the engine into a full buffer, or dropped by the feed.
func TestTableFeedStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := enginetest.Start(t, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
	m := newManager(t, e)
	tb := createTable(t, m, "feed-stop", hashKey, table.ViewNewImage)

	// Blocked in Next while attached.
	live, err := tb.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	require.True(t, table.Attached(live))
	errc := make(chan error, 1)
	go func() {
		_, err := live.Next(ctx)
		errc <- err
	}()
	live.Stop()
	require.ErrorIs(t, <-errc, table.ErrClosed)
	_, err = live.NextBatch(ctx, 10)
	require.ErrorIs(t, err, table.ErrClosed)
	live.Stop() // idempotent

	// More history than a buffer holds.
	stalled, err := tb.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	for i := range 1100 {
		_, err := tb.Put(ctx, it(t, fmt.Sprintf(`{"pk":"k%d"}`, i%100)), table.WriteOptions{Condition: nil})
		require.NoError(t, err)
		_, err = tb.Delete(ctx, key(t, tb, fmt.Sprintf(`{"pk":"k%d"}`, i%100)), table.WriteOptions{})
		require.NoError(t, err)
	}
	// Reading from the engine, its goroutine waiting for room.
	history, err := tb.Subscribe(ctx, table.Position{Kind: table.TrimHorizon})
	require.NoError(t, err)
	waitFor(t, 10*time.Second, func() error {
		if n := table.Buffered(history); n < 1024 {
			return fmt.Errorf("%d buffered", n)
		}
		return nil
	})
	require.False(t, table.Attached(history))
	c, err := history.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, table.EventInsert, c.Event)
	history.Stop()
	_, err = history.Next(ctx)
	require.ErrorIs(t, err, table.ErrClosed)

	// Dropped by the feed and reading from the engine.
	require.False(t, table.Attached(stalled))
	require.Equal(t, 1024, table.Buffered(stalled))
	stalled.Stop()
	_, err = stalled.Next(ctx)
	require.ErrorIs(t, err, table.ErrClosed)
}

// TestTableFeedEnd checks what a subscription's reader gets when the index
// that feeds it stops: ErrNotFound when the table is deleted, ErrClosed
// when the manager closes, after the changes already buffered.
func TestTableFeedEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := enginetest.Start(t, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
	m := newManager(t, e)
	gone := createTable(t, m, "feed-gone", hashKey, table.ViewNewImage)
	sub, err := gone.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	defer sub.Stop()
	_, err = gone.Put(ctx, it(t, `{"pk":"a"}`), table.WriteOptions{})
	require.NoError(t, err)
	waitFor(t, 10*time.Second, func() error {
		if table.Buffered(sub) != 1 {
			return errors.New("not buffered yet")
		}
		return nil
	})
	require.NoError(t, m.Delete(ctx, "feed-gone"))
	c, err := sub.Next(ctx)
	require.NoError(t, err, "a change buffered before the deletion")
	require.Equal(t, `{"pk":"a"}`, plain(c.New))
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, table.ErrNotFound)
	_, err = gone.Subscribe(ctx, table.Position{Kind: table.TrimHorizon})
	require.ErrorIs(t, err, table.ErrNotFound)

	kept := createTable(t, m, "feed-kept", hashKey, table.ViewNewImage)
	sub2, err := kept.Subscribe(ctx, table.Position{Kind: table.Latest})
	require.NoError(t, err)
	defer sub2.Stop()
	errc := make(chan error, 1)
	go func() {
		_, err := sub2.Next(ctx)
		errc <- err
	}()
	require.NoError(t, m.Close())
	require.ErrorIs(t, <-errc, table.ErrClosed)
}
