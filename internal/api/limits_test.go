package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
)

type limitsFixture struct {
	*fixture
	srv *api.Server
	reg *prometheus.Registry
	hc  *http.Client
}

// startWith runs a real server with cfg (its address aside) over a fresh
// embedded engine.
func startWith(t *testing.T, cfg api.Config, scfg stream.Config) *limitsFixture {
	t.Helper()
	e := enginetest.Start(t)
	reg := prometheus.NewRegistry()
	sm, err := stream.New(scfg, stream.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	cfg.Addr = "127.0.0.1:0"
	srv, err := api.New(cfg, api.Deps{Streams: sm, Registerer: reg, Gatherer: reg})
	require.NoError(t, err)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		sm.Close()
	})
	url := "http://" + srv.Addr().String()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &limitsFixture{fixture: &fixture{url: url, c: client.New(url, client.WithHTTPClient(hc)), eng: e, streams: sm}, srv: srv, reg: reg, hc: hc}
}

func refused(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "pricestream_http_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func putBody(n, size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"partition_key":"k%d","data":{"pad":"%s"}}`, i, strings.Repeat("x", size))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func rawPut(t *testing.T, hc *http.Client, url, name string, body []byte) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Post(url+"/v1/streams/"+name+"/records", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestAPILimitsIngestRate(t *testing.T) {
	f := startWith(t, api.Config{IngestRateLimit: 10, IngestRateBurst: 500}, stream.Config{})
	ctx := context.Background()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)

	resp, body := rawPut(t, f.hc, f.url, "clicks", putBody(500, 10))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	// The bucket is empty: the next put is refused whole, with Retry-After.
	resp, body = rawPut(t, f.hc, f.url, "clicks", putBody(10, 10))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, body, `"code":"throttled"`)
	require.Contains(t, body, "addr:127.0.0.1 is over its ingest rate limit of 10 records/s")
	require.Equal(t, 1.0, refused(t, f.reg, "rate"))
	// Nothing of the refused put was stored.
	require.Len(t, readAllRecords(t, f.c, "clicks"), 500)
}

func TestAPILimitsConcurrentRequests(t *testing.T) {
	f := startWith(t, api.Config{MaxConcurrentRequests: 2}, stream.Config{})
	ctx := context.Background()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)

	// Two tails hold both slots until they are cancelled; each answers
	// its headers at once, so once both have, both slots are taken.
	tctx, cancelTails := context.WithCancel(ctx)
	defer cancelTails()
	var wg sync.WaitGroup
	for range 2 {
		req, err := http.NewRequestWithContext(tctx, http.MethodGet, f.url+"/v1/streams/clicks/tail", nil)
		require.NoError(t, err)
		resp, err := f.hc.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		wg.Go(func() {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	var body string
	require.Eventually(t, func() bool {
		resp, err := f.hc.Get(f.url + "/v1/streams")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		if resp.StatusCode != http.StatusTooManyRequests {
			return false
		}
		require.Equal(t, "1", resp.Header.Get("Retry-After"))
		return true
	}, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, body, `"code":"overloaded"`)
	require.Contains(t, body, "too many requests at once (limit 2)")
	require.GreaterOrEqual(t, refused(t, f.reg, "concurrency"), 1.0)

	// Probes and metrics answer under overload.
	for _, p := range []string{"/healthz", "/metrics"} {
		resp, err := f.hc.Get(f.url + p)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
	}
	// Ending the tails frees the slots.
	cancelTails()
	wg.Wait()
	require.Eventually(t, func() bool { _, err := f.c.ListStreams(ctx); return err == nil }, 10*time.Second, 5*time.Millisecond)
}

func TestAPILimitsConsumerLag(t *testing.T) {
	f := startWith(t, api.Config{IngestMaxLagRecords: 100}, stream.Config{})
	ctx := context.Background()
	for _, n := range []string{"clicks", "orders"} {
		_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: n, Partitions: 1})
		require.NoError(t, err)
	}
	f.srv.SetLag([]api.ConsumerLag{
		{Stream: "clicks", Consumer: `job "click-features"`, Records: 101},
		{Stream: "orders", Consumer: `trigger "sales"`, Records: 100},
	})
	resp, body := rawPut(t, f.hc, f.url, "clicks", putBody(1, 10))
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, body)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, body, `stream \"clicks\": job \"click-features\" is 101 records behind (limit 100)`)
	require.Equal(t, 1.0, refused(t, f.reg, "lag"))
	// At the limit is not beyond it.
	resp, body = rawPut(t, f.hc, f.url, "orders", putBody(1, 10))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	// Caught up: accepted again.
	f.srv.SetLag([]api.ConsumerLag{{Stream: "clicks", Consumer: `job "click-features"`, Records: 3}})
	resp, body = rawPut(t, f.hc, f.url, "clicks", putBody(1, 10))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
}

// TestAPILimitsFloodBoundsMemory floods ingest with many more concurrent
// clients than the server admits, for a few seconds, and checks that the
// heap stays bounded while it runs and that every refusal is a prompt 429:
// no errors, no hangs.
func TestAPILimitsFloodBoundsMemory(t *testing.T) {
	const (
		clients  = 300
		duration = 3 * time.Second
		// heapBound covers the engine, the admitted requests' bodies
		// (32 x 100 KB), the partitions' bounded queues (4 x 4 MiB) and
		// the clients' own buffers (300 x 100 KB) with room to spare; an
		// unbounded server grows past it within the flood.
		heapBound = 256 << 20
	)
	// All clients share one address, so one rate limit: it keeps the
	// engine's own caches (which grow with the data written) out of the
	// measure, while the clients exceed every limit at once.
	f := startWith(t, api.Config{MaxConcurrentRequests: 32, IngestRateLimit: 20000, IngestRateBurst: 20000}, stream.Config{MaxQueuedBytes: 4 << 20})
	ctx := context.Background()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 4})
	require.NoError(t, err)
	body := putBody(200, 400) // about 100 KB

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 20 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	var (
		ok, throttled, other atomic.Int64
		maxHeap              atomic.Uint64
		firstErr             atomic.Pointer[string]
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > maxHeap.Load() {
				maxHeap.Store(ms.HeapInuse)
			}
		}
	}()
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, err := hc.Post(f.url+"/v1/streams/clicks/records", "application/json", bytes.NewReader(body))
				if err != nil {
					other.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK:
					ok.Add(1)
				case resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "":
					throttled.Add(1)
				default:
					other.Add(1)
					msg := resp.Status
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("flood: %d accepted, %d refused with 429, %d other; max heap in use %d MiB", ok.Load(), throttled.Load(), other.Load(), maxHeap.Load()>>20)
	if p := firstErr.Load(); p != nil {
		t.Fatalf("%d answers were neither 200 nor 429, the first: %s", other.Load(), *p)
	}
	require.Positive(t, ok.Load())
	require.Positive(t, throttled.Load(), "the flood was never refused: raise it")
	require.Less(t, maxHeap.Load(), uint64(heapBound))
	require.Positive(t, refused(t, f.reg, "concurrency"))
	// The server still serves at once after the flood.
	_, err = f.c.PutRecords(ctx, "clicks", putJSON(`{"after":"flood"}`))
	require.NoError(t, err)
}

// TestAPILimitsSlowBody sends a body far slower than the server allows: the
// request is answered with an error once http.body_read_timeout passes,
// and its slot serves the next client.
func TestAPILimitsSlowBody(t *testing.T) {
	f := startWith(t, api.Config{MaxConcurrentRequests: 1, BodyReadTimeout: 200 * time.Millisecond}, stream.Config{})
	ctx := context.Background()
	_, err := f.c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = fmt.Fprintf(conn, "POST /v1/streams/clicks/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"records\":")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server answers a stalled body")
	b, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	require.Contains(t, string(b), "timeout")
	require.Less(t, took, 5*time.Second)
	t.Logf("stalled body answered %d in %s: %s", resp.StatusCode, took.Round(time.Millisecond), b)
	// The slot is free again.
	_, err = f.c.PutRecords(ctx, "clicks", putJSON(`{"after":"slow"}`))
	require.NoError(t, err)
}
