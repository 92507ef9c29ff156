package engine_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/cputime"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// Writes that wait while a sync runs share the next one: nine writes, two
// syncs. None is answered before a sync that started after it was stored.
func TestEngineDurableGroupCommit(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "g", Subjects: []string{"g.>"}})
	require.NoError(t, err)
	syncs0, _ := e.SyncStats()
	h := holdSync(t, e, "g", 8)
	require.Zero(t, h.answered.Load(), "no write is answered while the sync holds")
	h.finish(t)
	syncs, _ := e.SyncStats()
	require.Equal(t, uint64(2), syncs-syncs0, "the eight that waited shared one sync")
}

// heldSync is a group sync held by the test while writes wait.
type heldSync struct {
	errs     chan error
	answered atomic.Int32
	release  chan struct{}
}

// holdSync makes e's next group sync wait, publishes one write to subject
// PREFIX.0 whose sync it is, then n writes more, and returns once all of
// them wait for a sync (the n for the one after the held sync).
func holdSync(t *testing.T, e *engine.Engine, prefix string, n int) *heldSync {
	t.Helper()
	ctx := context.Background()
	h := &heldSync{errs: make(chan error, n+1), release: make(chan struct{})}
	entered := make(chan struct{})
	var first atomic.Bool
	engine.SetBeforeSync(e, func(string) {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-h.release
		}
	})
	_, waits0 := e.SyncStats()
	publish := func(i int) {
		_, err := e.PublishExpect(ctx, e.Conn(), prefix+"."+strconv.Itoa(i), []byte("x"), 0)
		h.answered.Add(1)
		h.errs <- err
	}
	go publish(0)
	<-entered // the first write's sync holds
	for i := 1; i <= n; i++ {
		go publish(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, waits := e.SyncStats(); waits-waits0 == uint64(n+1) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	_, waits := e.SyncStats()
	require.Equal(t, uint64(n+1), waits-waits0, "every write waits for a sync")
	return h
}

// finish releases the held sync and checks that every write succeeded.
func (h *heldSync) finish(t *testing.T) {
	t.Helper()
	close(h.release)
	for range cap(h.errs) {
		require.NoError(t, <-h.errs)
	}
}

// A sync fsyncs the block files written since the last one (the new ones
// a small block size makes) and, when one appeared, their directory.
func TestEngineDurableSyncsNewBlocks(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	// A stream this small gets the file store's smallest blocks (32 KB).
	_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "b", Subjects: []string{"b.>"}, MaxBytes: 100_000})
	require.NoError(t, err)
	dir := msgsDir(t, e, "b")
	data := make([]byte, 10_000)
	var seenDir bool
	for i := range 20 {
		_, err := e.PublishExpect(ctx, e.Conn(), "b."+strconv.Itoa(i), data, 0)
		require.NoError(t, err)
		synced := engine.SyncedFiles(e, "b")
		newest := newestBlock(t, dir)
		require.Contains(t, synced, newest, "write %d: the block it went to was not fsynced", i)
		if slices.Contains(synced, dir) {
			seenDir = true
		}
	}
	require.True(t, seenDir, "new block files appeared, so their directory was fsynced")
	require.Greater(t, blockCount(t, dir), 1)
}

// A sync after writes that stayed in the block the last sync saw fsyncs
// that block without listing the directory; one after a new block lists it.
func TestEngineDurableSameBlockNoListing(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "s", Subjects: []string{"s.>"}, MaxBytes: 100_000})
	require.NoError(t, err)
	dir := msgsDir(t, e, "s")
	data := make([]byte, 100)
	publish := func(i int) {
		t.Helper()
		_, err := e.PublishExpect(ctx, e.Conn(), "s."+strconv.Itoa(i), data, 0)
		require.NoError(t, err)
	}
	publish(0)
	before, blocks := engine.DirectoryListings(e), blockCount(t, dir)
	for i := 1; i <= 50; i++ { // 5 KB: within the first 32 KB block
		publish(i)
		require.Equal(t, []string{newestBlock(t, dir)}, engine.SyncedFiles(e, "s"))
	}
	require.Equal(t, blocks, blockCount(t, dir))
	require.Equal(t, before, engine.DirectoryListings(e), "syncs of the same block listed the directory")

	big := make([]byte, 10_000)
	for i := 0; blockCount(t, dir) == blocks; i++ {
		require.Less(t, i, 100, "10 KB writes never started a second 32 KB block")
		_, err := e.PublishExpect(ctx, e.Conn(), "s.big"+strconv.Itoa(i), big, 0)
		require.NoError(t, err)
	}
	require.Greater(t, engine.DirectoryListings(e), before, "a new block was found by listing")
	require.Contains(t, engine.SyncedFiles(e, "s"), newestBlock(t, dir))
}

// Without group commit (an interval, or the server's own per-message
// fsync) there is nothing to wait for.
func TestEngineDurableOnlyWithAlways(t *testing.T) {
	for _, p := range []engine.FsyncPolicy{engine.FsyncPerMessage, {Interval: 50 * time.Millisecond}} {
		e := enginetest.Start(t, enginetest.WithFsync(p))
		ctx := context.Background()
		_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "n", Subjects: []string{"n.>"}})
		require.NoError(t, err)
		_, err = e.PublishExpect(ctx, e.Conn(), "n.a", []byte("x"), 0)
		require.NoError(t, err)
		syncs, waits := e.SyncStats()
		require.Zero(t, syncs+waits, p.String())
	}
}

// A stream whose files are not where the file store keeps them is an
// error that says so, not a write taken for durable.
func TestEngineDurableUnknownStream(t *testing.T) {
	e := enginetest.Start(t)
	err := e.Durable(context.Background(), "nosuch")
	require.ErrorContains(t, err, `stream files not found: stream "nosuch"`)
}

func msgsDir(t *testing.T, e *engine.Engine, stream string) string {
	t.Helper()
	dir := filepath.Join(e.Config().DataDir, "jetstream", "jetstream", "$G", "streams", stream, "msgs")
	_, err := os.Stat(dir)
	require.NoError(t, err, "the file store's layout changed: group commit fsyncs files it cannot find")
	return dir
}

func newestBlock(t *testing.T, dir string) string {
	t.Helper()
	best := -1
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, en := range ents {
		if n, ok := strings.CutSuffix(en.Name(), ".blk"); ok {
			if i, err := strconv.Atoi(n); err == nil {
				best = max(best, i)
			}
		}
	}
	require.GreaterOrEqual(t, best, 0)
	return filepath.Join(dir, fmt.Sprintf("%d.blk", best))
}

func blockCount(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	n := 0
	for _, en := range ents {
		if strings.HasSuffix(en.Name(), ".blk") {
			n++
		}
	}
	return n
}

// BenchmarkEngineDurablePublish: 16 writers publishing 200-byte messages
// to one stream, each waiting for its write to be fsynced: group commit
// (always) beside the server's own fsync of every message (per-message),
// and an interval that does not wait (interval).
func BenchmarkEngineDurablePublish(b *testing.B) {
	for _, p := range []engine.FsyncPolicy{engine.FsyncAlways, engine.FsyncPerMessage, {Interval: 100 * time.Millisecond}} {
		b.Run(p.String(), func(b *testing.B) {
			e := enginetest.Start(b, enginetest.WithFsync(p))
			ctx := context.Background()
			_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "d", Subjects: []string{"d.>"}})
			require.NoError(b, err)
			publishParallel(b, e, func(i int64) string { return "d." + strconv.FormatInt(i, 10) })
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			if syncs, waits := e.SyncStats(); syncs > 0 {
				b.ReportMetric(float64(waits)/float64(syncs), "writes/fsync")
			}
		})
	}
}

// BenchmarkEngineDurableSequential: one writer, each write waiting for its
// own group sync (as the small writes of a lightly loaded pipeline do):
// the process's CPU per write (engine, client and the sync's file system
// calls) beside the time.
//
//	go test -run '^$' -bench EngineDurableSequential -benchtime 3000x -count 6 ./internal/engine/
func BenchmarkEngineDurableSequential(b *testing.B) {
	e := enginetest.Start(b)
	ctx := context.Background()
	_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "q", Subjects: []string{"q.>"}})
	require.NoError(b, err)
	data := make([]byte, 200)
	cpu0 := cputime.Process()
	for i := 0; b.Loop(); i++ {
		if _, err := e.PublishExpect(ctx, e.Conn(), "q."+strconv.Itoa(i), data, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Process()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
}

// With fsync always, the group syncs fsync asynchronously where the kernel
// allows it (Linux native AIO), so that writers waiting for the disk hold
// none of the scheduler's Ps.
func TestEngineDurableAsync(t *testing.T) {
	e := enginetest.Start(t)
	if !engine.AsyncFsyncAvailable(e) {
		t.Skipf("asynchronous fsync is not available on %s here (Linux native AIO); the group syncs use the system call", runtime.GOOS)
	}
	ctx := context.Background()
	_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "a", Subjects: []string{"a.>"}})
	require.NoError(t, err)
	before := engine.AsyncFsyncs(e)
	for i := range 20 {
		_, err := e.PublishExpect(ctx, e.Conn(), "a."+strconv.Itoa(i), []byte("x"), 0)
		require.NoError(t, err)
	}
	syncs, _ := e.SyncStats()
	require.NotZero(t, syncs)
	require.GreaterOrEqual(t, engine.AsyncFsyncs(e)-before, uint64(20), "each write waited for at least one asynchronous fsync")
}

// BenchmarkEngineDurableUnderLoad runs 16 fsynced writers to 8 streams
// beside other work, with the group syncs' fsyncs submitted asynchronously or made by
// the system call. The other work is a ring of goroutines handing tokens on
// through channels, each hop costing a few microseconds of CPU (a pipeline
// of stages, as the rest of the process is). msgs/s is the fsynced
// writes' throughput, hops/s how much CPU the other work kept: a goroutine
// blocked in fsync holds its P until the runtime hands it over, so with
// several streams' syncs in the system call at once both suffer.
func BenchmarkEngineDurableUnderLoad(b *testing.B) {
	for _, mode := range []string{"async", "syscall"} {
		b.Run(mode, func(b *testing.B) {
			e := enginetest.Start(b)
			if mode == "syscall" {
				engine.UseSyscallFsync(e)
			} else if !engine.AsyncFsyncAvailable(e) {
				b.Skip("asynchronous fsync is not available here")
			}
			ctx := context.Background()
			const streams = 8 // as many group syncs at once as a pipeline's streams
			for i := range streams {
				_, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "d" + strconv.Itoa(i), Subjects: []string{"d" + strconv.Itoa(i) + ".>"}})
				require.NoError(b, err)
			}
			hops, stop := startRing(8, 16)
			hops.Store(0)
			publishParallel(b, e, func(i int64) string {
				return "d" + strconv.FormatInt(i%streams, 10) + "." + strconv.FormatInt(i, 10)
			})
			done := hops.Load()
			stop()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "hops/s")
		})
	}
}

// publishParallel runs b.N fsynced 200-byte writes from 16 writers (on 2
// cores), the i-th to subject(i), and stops the timer.
func publishParallel(b *testing.B, e *engine.Engine, subject func(i int64) string) {
	ctx := context.Background()
	data := make([]byte, 200)
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.PublishExpect(ctx, e.Conn(), subject(next.Add(1)), data, 0); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}
	})
	b.StopTimer()
	require.NoError(b, firstErr)
}

// startRing starts n goroutines in a ring, passing tokens on through
// buffered channels, each hop checksumming 1 KB a few times; stop ends
// them and waits.
func startRing(n, tokens int) (hops *atomic.Int64, stop func()) {
	hops = new(atomic.Int64)
	quit := make(chan struct{})
	chans := make([]chan int, n)
	for i := range chans {
		chans[i] = make(chan int, tokens)
	}
	var wg sync.WaitGroup
	for i := range n {
		in, out := chans[i], chans[(i+1)%n]
		wg.Go(func() {
			buf := make([]byte, 1024)
			for {
				select {
				case t := <-in:
					for range 8 {
						buf[t%len(buf)] = byte(crc32.ChecksumIEEE(buf))
					}
					hops.Add(1)
					select {
					case out <- t + 1:
					case <-quit:
						return
					}
				case <-quit:
					return
				}
			}
		})
	}
	for t := range tokens {
		chans[0] <- t
	}
	return hops, func() { close(quit); wg.Wait() }
}

// A stream deleted and made again under the same name has its blocks
// numbered from 1 again: they are fsynced, not taken for old ones.
func TestEngineDurableRecreatedStream(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	cfg := jetstream.StreamConfig{Name: "r", Subjects: []string{"r.>"}, MaxBytes: 100_000}
	_, err := e.JetStream().CreateStream(ctx, cfg)
	require.NoError(t, err)
	data := make([]byte, 10_000)
	for i := range 12 { // several blocks
		_, err := e.PublishExpect(ctx, e.Conn(), "r."+strconv.Itoa(i), data, 0)
		require.NoError(t, err)
	}
	require.NoError(t, e.JetStream().DeleteStream(ctx, "r"))
	// The server removes a deleted stream's files in the background, and
	// refuses to make one of the same name until they are gone.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err = e.JetStream().CreateStream(ctx, cfg); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	require.NoError(t, err)
	_, err = e.PublishExpect(ctx, e.Conn(), "r.x", data, 0)
	require.NoError(t, err)
	dir := msgsDir(t, e, "r")
	require.Contains(t, engine.SyncedFiles(e, "r"), newestBlock(t, dir))
	require.Contains(t, engine.SyncedFiles(e, "r"), dir, "a new directory is fsynced")
}

// SyncAll syncs the engine's whole file system once for the callers that
// wait together, and only with group commit.
func TestEngineDurableSyncAll(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	s0, _ := e.SyncStats()
	require.NoError(t, e.SyncAll(ctx))
	s1, _ := e.SyncStats()
	require.Equal(t, uint64(1), s1-s0)
	i := enginetest.Start(t, enginetest.WithFsync(engine.FsyncPolicy{Interval: time.Second}))
	require.NoError(t, i.SyncAll(ctx))
	syncs, waits := i.SyncStats()
	require.Zero(t, syncs+waits)
	var none *engine.Engine
	require.NoError(t, none.SyncAll(ctx), "a part without an engine (in tests) has nothing to sync")
}

// The group syncs' metrics: a sync held for a while, then the writes that
// waited meanwhile made durable by one more; every write's wait counted,
// the second round with the eight writes it served.
func TestEngineDurableMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := engine.DefaultConfig()
	cfg.DataDir = t.TempDir()
	e, err := engine.Start(context.Background(), cfg, engine.Deps{Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	_, err = e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "m", Subjects: []string{"m.>"}})
	require.NoError(t, err)
	// The stream's creation may itself have synced: count from here.
	before := histograms(t, reg)
	const hold = 30 * time.Millisecond
	h := holdSync(t, e, "m", 8)
	time.Sleep(hold) // the held sync's length, which its metrics must show
	h.finish(t)
	after := histograms(t, reg)
	syncs := after["pricestream_engine_group_sync_seconds"].delta(before["pricestream_engine_group_sync_seconds"])
	require.Equal(t, uint64(2), syncs.count, "two group syncs")
	require.GreaterOrEqual(t, syncs.sum, hold.Seconds(), "the held sync's time is counted")
	writes := after["pricestream_engine_group_sync_writes"].delta(before["pricestream_engine_group_sync_writes"])
	require.Equal(t, uint64(2), writes.count)
	require.Equal(t, 9.0, writes.sum, "the first sync made one write durable, the second eight")
	waited := after["pricestream_engine_durable_wait_seconds"].delta(before["pricestream_engine_durable_wait_seconds"])
	require.Equal(t, uint64(9), waited.count, "every write's wait")
	require.GreaterOrEqual(t, waited.sum, 9*hold.Seconds(), "each write waited out the held sync")
}

type histo struct {
	count uint64
	sum   float64
}

func (h histo) delta(b histo) histo { return histo{h.count - b.count, h.sum - b.sum} }

// histograms returns the count and sum of every histogram reg gathers.
func histograms(t *testing.T, reg *prometheus.Registry) map[string]histo {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]histo{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				out[mf.GetName()] = histo{h.GetSampleCount(), h.GetSampleSum()}
			}
		}
	}
	return out
}
