package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
)

// natsServer is a nats-server subprocess with JetStream, its own store
// directory and a fixed loopback port, so that it can be stopped and
// started again where clients expect it.
type natsServer struct {
	bin, conf string
	port      int
	cmd       *exec.Cmd
	out       *strings.Builder
}

// natsServerBinary returns the path of the nats-server binary, or skips.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	t.Skip("no nats-server binary on PATH or at /usr/sbin/nats-server: the external-NATS fault test needs one")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newNATSServer(t *testing.T) *natsServer {
	t.Helper()
	dir := t.TempDir()
	n := &natsServer{bin: natsServerBinary(t), port: freePort(t), conf: filepath.Join(dir, "nats.conf")}
	// fsync before every acknowledgement where the server can (2.10 on);
	// 2.9 flushes on an interval, and the test stops it gracefully.
	sync := "  sync_interval: always\n"
	if v, err := exec.Command(n.bin, "--version").Output(); err == nil && (strings.Contains(string(v), "v2.9.") || strings.Contains(string(v), "v2.8.")) {
		sync = ""
	}
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\njetstream {\n  store_dir: %q\n%s}\n", n.port, filepath.Join(dir, "js"), sync)
	require.NoError(t, os.WriteFile(n.conf, []byte(conf), 0o600))
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsServer) start(t *testing.T) {
	t.Helper()
	n.out = new(strings.Builder)
	n.cmd = exec.Command(n.bin, "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	require.NoError(t, n.cmd.Start())
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.port), time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 30*time.Second, 10*time.Millisecond, "nats-server did not listen: %s", n.out)
}

func (n *natsServer) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
	n.cmd = nil
}

// steadyLoad puts records from workers until ctx is done, through
// failures: it counts acknowledged records and refused puts by status.
type steadyLoad struct {
	mu     sync.Mutex
	acked  map[string]bool
	n      atomic.Int64
	failed atomic.Int64
	codes  map[string]int // refusals: "http 503", or "record unavailable" for a failed record of an answered put
	wg     sync.WaitGroup
	// transport holds the errors of puts that got no HTTP answer.
	transport []string
}

func startSteadyLoad(ctx context.Context, c *client.Client, stream string, workers int) *steadyLoad {
	l := &steadyLoad{acked: map[string]bool{}, codes: map[string]int{}}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				recs := make([]api.PutRecord, 20)
				for j := range recs {
					id := fmt.Sprintf("w%d-%d-%d", w, i, j)
					recs[j] = api.PutRecord{PartitionKey: id, Data: []byte(`"` + id + `"`)}
				}
				rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				res, err := c.PutRecords(rctx, stream, recs)
				cancel()
				if err != nil {
					if ctx.Err() != nil {
						return // the test stopped the load
					}
					l.failed.Add(1)
					var ce *client.Error
					l.mu.Lock()
					if errors.As(err, &ce) {
						l.codes[fmt.Sprintf("http %d", ce.Status)]++
					} else {
						l.codes["transport"]++
						l.transport = append(l.transport, err.Error())
					}
					l.mu.Unlock()
					select { // pace the retries of a failing server
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				l.mu.Lock()
				for k, r := range res.Records {
					if r.ErrorCode == "" {
						l.acked[string(recs[k].Data[1:len(recs[k].Data)-1])] = true
						l.n.Add(1)
					} else {
						l.failed.Add(1)
						l.codes["record "+r.ErrorCode]++
					}
				}
				l.mu.Unlock()
				if res.FailedRecordCount > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		})
	}
	return l
}

// TestFaultExternalNATSRestart runs the real binary against its own
// nats-server subprocess and stops and restarts that server under load:
// while it is down, puts are answered promptly with errors (503) and
// /readyz says not ready; when it is back, pricestream recovers by itself
// (no restart) and every acknowledged record is there.
func TestFaultExternalNATSRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs nats-server")
	}
	ns := newNATSServer(t)
	ns.start(t)
	// A write in flight when the connection drops waits for its
	// acknowledgement until streams.write_timeout; later ones fail at once.
	const writeTimeout = 2 * time.Second
	s := startServerEnv(t, "", []string{"PRICESTREAM_STREAMS_WRITE_TIMEOUT=" + writeTimeout.String()}, "--nats-url", ns.url())
	c := client.New(s.url)
	ctx := context.Background()
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 4})
	require.NoError(t, err)

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	l := startSteadyLoad(lctx, c, "clicks", 4)
	require.Eventually(t, func() bool { return l.n.Load() >= 2000 }, 60*time.Second, 5*time.Millisecond)

	ns.stop()
	down := time.Now()
	// Puts fail, promptly, with a status that says unavailable.
	failedBefore := l.failed.Load()
	require.Eventually(t, func() bool { return l.failed.Load() > failedBefore+10 }, 30*time.Second, 10*time.Millisecond, s.log())
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	start := time.Now()
	res, err := c.PutRecords(rctx, "clicks", []api.PutRecord{{PartitionKey: "k", Data: []byte(`"while-down"`)}})
	cancel()
	took := time.Since(start).Round(time.Millisecond)
	require.Less(t, took, writeTimeout+2*time.Second, "answered within the write timeout")
	var ce *client.Error
	if errors.As(err, &ce) {
		require.Equal(t, http.StatusServiceUnavailable, ce.Status, ce.Message)
		t.Logf("while down: %d %s: %s (answered in %s)", ce.Status, ce.Code, ce.Message, took)
	} else {
		require.NoError(t, err, "a put while NATS is down is answered, not left hanging")
		require.Equal(t, 1, res.FailedRecordCount, "a put while NATS is down stores nothing")
		require.Equal(t, "unavailable", res.Records[0].ErrorCode, res.Records[0].Error)
		t.Logf("while down: record refused with %s: %s (answered in %s)", res.Records[0].ErrorCode, res.Records[0].Error, took)
	}
	require.Error(t, c.Ready(ctx), "/readyz is not ready while the engine is down")
	// Once the writes in flight at the drop have timed out, every put is
	// refused at once.
	require.Eventually(t, func() bool {
		start := time.Now()
		res, err := c.PutRecords(ctx, "clicks", []api.PutRecord{{PartitionKey: "k", Data: []byte(`"while-down"`)}})
		return err == nil && res.FailedRecordCount == 1 && time.Since(start) < 500*time.Millisecond
	}, 3*writeTimeout, 10*time.Millisecond)

	ns.start(t)
	up := time.Now()
	ackedAtRestart := l.n.Load()
	require.Eventually(t, func() bool { return l.n.Load() > ackedAtRestart+1000 }, 60*time.Second, 10*time.Millisecond, "ingest did not recover: %s", s.log())
	t.Logf("down for %s; ingest acknowledging again %s after the server came back", up.Sub(down).Round(time.Millisecond), time.Since(up).Round(time.Millisecond))
	// Ready once every engine connection is back (the readers' may follow
	// the writers' by a reconnect wait): then reads are served too.
	require.Eventually(t, func() bool { return c.Ready(ctx) == nil }, 30*time.Second, 10*time.Millisecond, "not ready after the restart: %s", s.log())
	stopLoad()
	l.wg.Wait()

	got := readAll(t, c, "clicks")
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.acked {
		require.True(t, got[id], "acknowledged record %s lost across the NATS restart", id)
	}
	t.Logf("%d acknowledged, %d stored; refused puts by status: %v %q", len(l.acked), len(got), l.codes, l.transport)
	for code := range l.codes {
		require.Contains(t, []string{"http 503", "http 429", "record unavailable", "record throttled"}, code, "refusals say unavailable or throttled: %v", l.codes)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, or skips.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the full-disk fault test mounts a tmpfs, which needs root")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	require.NoError(t, os.Mkdir(dir, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the full-disk fault test: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the disk is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return p
		}
	}
}

// TestFaultDiskFull fills the data directory's disk (a 64 MiB tmpfs)
// under a running binary: puts are refused with 507 and a message naming
// the directory, what was stored stays readable, writes are accepted again
// once space is freed, and after a restart every acknowledged record is
// there.
func TestFaultDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and mounts a tmpfs")
	}
	mnt := mountTmpfs(t, 64<<20)
	dataDir := filepath.Join(mnt, "data")
	env := []string{"PRICESTREAM_ENGINE_MIN_FREE_BYTES=8388608"}
	s := startServerEnv(t, dataDir, env)
	c := client.New(s.url)
	ctx := context.Background()
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 2})
	require.NoError(t, err)
	acked := map[string]bool{}
	put := func(tag string, n int) (*client.PutResult, error) {
		recs := make([]api.PutRecord, n)
		for i := range recs {
			id := fmt.Sprintf("%s-%d", tag, i)
			recs[i] = api.PutRecord{PartitionKey: id, Data: []byte(`"` + id + `"`)}
		}
		res, err := c.PutRecords(ctx, "clicks", recs)
		if err == nil {
			for i, r := range res.Records {
				if r.ErrorCode == "" {
					acked[string(recs[i].Data[1:len(recs[i].Data)-1])] = true
				}
			}
		}
		return res, err
	}
	for i := range 20 {
		_, err := put(fmt.Sprintf("before-%d", i), 100)
		require.NoError(t, err)
	}

	filler := fill(t, mnt)
	var ce *client.Error
	var last error
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, last = put("full", 10)
		if errors.As(last, &ce) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("puts not refused 10 s after the disk filled; the last put's error: %v\nserver log:\n%s", last, s.log())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	require.Equal(t, http.StatusInsufficientStorage, ce.Status, ce.Message)
	require.Equal(t, "insufficient_storage", ce.Code)
	require.Contains(t, ce.Message, dataDir)
	require.Contains(t, ce.Message, "engine.min_free_bytes")
	t.Logf("disk full: %d %s: %s", ce.Status, ce.Code, ce.Message)
	// What was stored is still served.
	got := readAll(t, c, "clicks")
	for id := range acked {
		require.True(t, got[id], "record %s unreadable on a full disk", id)
	}
	require.Contains(t, s.log(), "data directory nearly full")

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { _, err := put("after", 10); return err == nil }, 10*time.Second, 10*time.Millisecond)
	for i := range 5 {
		res, err := put(fmt.Sprintf("after-%d", i), 100)
		require.NoError(t, err)
		require.Zero(t, res.FailedRecordCount)
	}
	require.Contains(t, s.log(), "writes accepted")
	require.NotContains(t, s.log(), "no space left on device", "the engine itself never hit the full disk")

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, s.cmd.Wait(), s.log())
	s = startServerEnv(t, dataDir, env)
	got = readAll(t, client.New(s.url), "clicks")
	for id := range acked {
		require.True(t, got[id], "acknowledged record %s lost", id)
	}
	t.Logf("%d acknowledged records intact after the disk filled, was freed, and the server restarted", len(acked))
}

// TestFaultDiskFullUnguarded turns the free-space reserve off and lets the
// engine itself hit the full disk: its writes fail (the puts are refused,
// none acknowledged), JetStream keeps the failed streams failed after space
// returns, and a restart, once space is freed, brings back every
// acknowledged record and accepts writes again: nothing stored is
// corrupted.
func TestFaultDiskFullUnguarded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and mounts a tmpfs")
	}
	mnt := mountTmpfs(t, 64<<20)
	dataDir := filepath.Join(mnt, "data")
	env := []string{"PRICESTREAM_ENGINE_MIN_FREE_BYTES=-1", "PRICESTREAM_STREAMS_WRITE_TIMEOUT=1s", "PRICESTREAM_SHUTDOWN_TIMEOUT=5s"}
	s := startServerEnv(t, dataDir, env)
	c := client.New(s.url)
	ctx := context.Background()
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 2})
	require.NoError(t, err)
	acked := map[string]bool{}
	put := func(tag string, n, size int) int {
		recs := make([]api.PutRecord, n)
		for i := range recs {
			id := fmt.Sprintf("%s-%d", tag, i)
			recs[i] = api.PutRecord{PartitionKey: id, Data: []byte(`"` + id + strings.Repeat(".", size) + `"`)}
		}
		res, err := c.PutRecords(ctx, "clicks", recs)
		if err != nil {
			return n
		}
		for i, r := range res.Records {
			if r.ErrorCode == "" {
				acked[string(recs[i].Data[1:len(recs[i].Data)-1])] = true
			}
		}
		return res.FailedRecordCount
	}
	for i := range 20 {
		require.Zero(t, put(fmt.Sprintf("before-%d", i), 100, 0))
	}
	filler := fill(t, mnt)
	require.Eventually(t, func() bool { return put("full", 100, 1000) > 0 }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, os.Remove(filler))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	_ = s.cmd.Wait() // a clean exit or the shutdown deadline: either is fine here

	s = startServerEnv(t, dataDir, env)
	c = client.New(s.url)
	got := readAll(t, c, "clicks")
	for id := range acked {
		require.True(t, got[id], "acknowledged record %s lost or corrupted", id)
	}
	require.Zero(t, put("after", 100, 0), "writes accepted after the restart")
	t.Logf("%d acknowledged records intact after the engine hit a full disk and restarted", len(acked))
}
