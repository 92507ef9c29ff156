package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/trigger"
)

// startServerEnv is startServer with extra environment variables
// (PRICESTREAM_* settings) and arguments in place of the defaults'
// --data-dir when dataDir is empty.
func startServerEnv(t *testing.T, dataDir string, env []string, extra ...string) *server {
	t.Helper()
	args := []string{"serve", "--http", "127.0.0.1:0", "--log-format", "json"}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	cmd := exec.Command(binary(t), append(args, extra...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, logs: new(bytes.Buffer), mu: new(sync.Mutex)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.Write(sc.Bytes())
			s.logs.WriteByte('\n')
			s.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "http listening" {
				addr <- l.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		require.True(t, ok, "server exited before listening: %s", s.log())
		s.url = "http://" + a
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("server did not listen within 60s: %s", s.log())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return s
}

// load puts records from workers until ctx is done or the server stops
// answering, recording the acknowledged ones.
type load struct {
	mu    sync.Mutex
	acked map[string]bool
	n     atomic.Int64
	wg    sync.WaitGroup
}

func startLoad(ctx context.Context, c *client.Client, stream, tag string, workers int) *load {
	l := &load{acked: map[string]bool{}}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				recs := make([]api.PutRecord, 50)
				for j := range recs {
					id := fmt.Sprintf("%s-w%d-%d-%d", tag, w, i, j)
					recs[j] = api.PutRecord{PartitionKey: id, Data: json.RawMessage(`"` + id + `"`)}
				}
				res, err := c.PutRecords(ctx, stream, recs)
				if err != nil {
					var ce *client.Error
					if errors.As(err, &ce) && ce.Status == http.StatusTooManyRequests {
						continue
					}
					return // the server is gone or going
				}
				l.mu.Lock()
				for k, r := range res.Records {
					if r.ErrorCode == "" {
						l.acked[string(recs[k].Data[1:len(recs[k].Data)-1])] = true
						l.n.Add(1)
					}
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// hook is an HTTP trigger function that records the sequence numbers it is
// given, and how often each.
type hook struct {
	mu   sync.Mutex
	seen map[string]int
	srv  *http.Server
	url  string
}

func startHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h.url = "http://" + ln.Addr().String() + "/hook"
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Records []struct {
				Kinesis struct {
					SequenceNumber string `json:"sequenceNumber"`
				} `json:"kinesis"`
			} `json:"Records"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		for _, rec := range ev.Records {
			h.seen[rec.Kinesis.SequenceNumber]++
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { _ = h.srv.Close() })
	return h
}

func (h *hook) counts() (records, dups int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.seen {
		records++
		if n > 1 {
			dups++
		}
	}
	return records, dups
}

// TestServeSIGTERMUnderLoad sends SIGTERM to the real binary while clients
// put records and a trigger consumes them: it must exit 0 within
// shutdown_timeout, every acknowledged record must be there after a
// restart, and the trigger, having checkpointed at shutdown, must resume
// without delivering any record twice.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const shutdownTimeout = 5 * time.Second
	dir := t.TempDir()
	env := []string{"PRICESTREAM_SHUTDOWN_TIMEOUT=" + shutdownTimeout.String()}
	h := startHook(t)
	ctx := context.Background()

	s := startServerEnv(t, dir, env)
	c := client.New(s.url)
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 4})
	require.NoError(t, err)
	spec, err := trigger.ParseSpec([]byte("name: count\nsource: stream:clicks\nfunction: http:" + h.url + "\nbatch_size: 100\n"))
	require.NoError(t, err)
	_, err = c.CreateTrigger(ctx, spec)
	require.NoError(t, err)

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	l := startLoad(lctx, c, "clicks", "a", 4)
	require.Eventually(t, func() bool {
		n, _ := h.counts()
		return l.n.Load() >= 3000 && n > 0
	}, 60*time.Second, 5*time.Millisecond)

	sent := time.Now()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	waitErr := make(chan error, 1)
	go func() { waitErr <- s.cmd.Wait() }()
	select {
	case err := <-waitErr:
		took := time.Since(sent)
		require.NoError(t, err, "exit status after SIGTERM: %s", s.log())
		require.Less(t, took, shutdownTimeout+time.Second, "exit after %s", took)
		t.Logf("exited 0 %s after SIGTERM, under load", took.Round(time.Millisecond))
	case <-time.After(shutdownTimeout + 10*time.Second):
		t.Fatalf("serve did not exit within %s of SIGTERM: %s", shutdownTimeout, s.log())
	}
	stopLoad()
	l.wg.Wait()
	require.Contains(t, s.log(), `"shut down cleanly"`)
	require.Contains(t, s.log(), `"engine stopped"`)

	s = startServerEnv(t, dir, env)
	c = client.New(s.url)
	got := readAll(t, c, "clicks")
	l.mu.Lock()
	for id := range l.acked {
		require.True(t, got[id], "acknowledged record %s lost", id)
	}
	acked := len(l.acked)
	l.mu.Unlock()
	// The trigger catches up from its checkpoints: every stored record
	// once, none twice.
	require.Eventually(t, func() bool { n, _ := h.counts(); return n == len(got) }, 60*time.Second, 10*time.Millisecond)
	n, dups := h.counts()
	require.Zero(t, dups, "records delivered twice across a graceful restart")
	t.Logf("%d acknowledged, %d stored, %d delivered to the trigger once each", acked, len(got), n)
}

// TestServeSIGTERMDeadline stalls a trigger's function so that shutdown
// cannot finish its work: the process must still exit within
// shutdown_timeout, saying why.
func TestServeSIGTERMDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const shutdownTimeout = 3 * time.Second
	called := make(chan struct{}, 1)
	release := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case called <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { close(release); _ = hs.Close() })

	s := startServerEnv(t, t.TempDir(), []string{"PRICESTREAM_SHUTDOWN_TIMEOUT=" + shutdownTimeout.String()})
	c := client.New(s.url)
	ctx := context.Background()
	_, err = c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)
	spec, err := trigger.ParseSpec([]byte("name: stuck\nsource: stream:clicks\nfunction: http:http://" + ln.Addr().String() + "/hook\nfunction_timeout: 10m\n"))
	require.NoError(t, err)
	_, err = c.CreateTrigger(ctx, spec)
	require.NoError(t, err)
	_, err = c.PutRecords(ctx, "clicks", []api.PutRecord{{PartitionKey: "k", Data: json.RawMessage(`"x"`)}})
	require.NoError(t, err)
	select {
	case <-called:
	case <-time.After(30 * time.Second):
		t.Fatalf("the trigger never called its function: %s", s.log())
	}

	sent := time.Now()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	waitErr := make(chan error, 1)
	go func() { waitErr <- s.cmd.Wait() }()
	select {
	case err := <-waitErr:
		took := time.Since(sent)
		require.Less(t, took, shutdownTimeout+time.Second, "exit after %s", took)
		if err != nil {
			require.Contains(t, s.log(), "shutdown deadline passed", "a non-zero exit says why")
		}
		t.Logf("exit %v %s after SIGTERM with a stalled function", err, took.Round(time.Millisecond))
	case <-time.After(shutdownTimeout + 10*time.Second):
		t.Fatalf("serve did not exit within %s of SIGTERM: %s", shutdownTimeout, s.log())
	}
}
