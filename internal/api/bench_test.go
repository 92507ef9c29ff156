package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/kinesis"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
)

// clickEvent returns a ~200-byte JSON click event.
func clickEvent(i int) []byte {
	return fmt.Appendf(nil, `{"event_id":"e-%08d","event_type":"view","product_id":"p-%05d","user_id":"u-%07d","session_id":"s-%07d","event_time":"2026-11-25T10:00:00.000Z","price":129.99,"quantity":1,"referrer":"search"}`,
		i, i%10000, i%1000000, i%500000)
}

type benchServer struct {
	url     string
	streams *stream.Manager
	eng     *engine.Engine
	hc      *http.Client
}

func startBench(b *testing.B, fsync engine.FsyncPolicy, partitions int) *benchServer {
	b.Helper()
	e := enginetest.Start(b, enginetest.WithFsync(fsync))
	reg := prometheus.NewRegistry()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Streams: sm, Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	key, err := e.Secret(context.Background(), "kinesis-iterators")
	if err != nil {
		b.Fatal(err)
	}
	kh, err := kinesis.New(kinesis.Config{}, kinesis.Deps{Streams: sm, IteratorKey: key, Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	srv.HandleTarget(kinesis.Target, kh)
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, DisableCompression: true}}
	b.Cleanup(func() {
		hc.CloseIdleConnections()
		_ = srv.Shutdown(context.Background())
		sm.Close()
	})
	if _, err := sm.Create(context.Background(), stream.Spec{Name: "clicks", Partitions: partitions}); err != nil {
		b.Fatal(err)
	}
	return &benchServer{url: "http://" + srv.Addr().String(), streams: sm, eng: e, hc: hc}
}

// nativeBody encodes a native put of events [from, from+n).
func nativeBody(from, n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"records":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"partition_key":"p-%05d","data":`, (from+i)%10000)
		buf.Write(clickEvent(from + i))
		buf.WriteByte('}')
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// kinesisBody encodes a Kinesis PutRecords of events [from, from+n).
func kinesisBody(from, n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"StreamName":"clicks","Records":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"PartitionKey":"p-%05d","Data":"%s"}`, (from+i)%10000, base64.StdEncoding.EncodeToString(clickEvent(from+i)))
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

func (s *benchServer) post(body []byte, kinesisAPI bool) error {
	var req *http.Request
	if kinesisAPI {
		req, _ = http.NewRequest(http.MethodPost, s.url+"/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		req, _ = http.NewRequest(http.MethodPost, s.url+"/v1/streams/clicks/records", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(b, []byte(`"failed_record_count":1`)) || bytes.Contains(b, []byte(`"FailedRecordCount":1`)) {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return nil
}

var fsyncModes = []struct {
	name   string
	policy engine.FsyncPolicy
}{
	{"fsync=always", engine.FsyncAlways},
	{"fsync=interval", engine.FsyncPolicy{Interval: 100 * time.Millisecond}},
}

// BenchmarkIngestHTTP measures events acknowledged per second when 16
// clients post JSON batches of 200-byte click events over loopback HTTP,
// through the native API and the Kinesis API, each request answered only
// after its records are stored (and, with fsync=always, fsynced).
func BenchmarkIngestHTTP(b *testing.B) {
	for _, mode := range fsyncModes {
		for _, apiName := range []string{"native", "kinesis"} {
			for _, batch := range []int{100, 500} {
				b.Run(fmt.Sprintf("%s/api=%s/batch=%d", mode.name, apiName, batch), func(b *testing.B) {
					s := startBench(b, mode.policy, 4)
					bodies := make([][]byte, 64)
					for i := range bodies {
						if apiName == "kinesis" {
							bodies[i] = kinesisBody(i*batch, batch)
						} else {
							bodies[i] = nativeBody(i*batch, batch)
						}
					}
					var next atomic.Int64
					var failed atomic.Value
					b.SetBytes(int64(len(bodies[0])))
					b.SetParallelism(8) // 16 concurrent clients on 2 cores
					b.ResetTimer()
					start := time.Now()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := next.Add(1)
							if err := s.post(bodies[int(i)%len(bodies)], apiName == "kinesis"); err != nil {
								failed.Store(err)
							}
						}
					})
					elapsed := time.Since(start)
					if err, _ := failed.Load().(error); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
					b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*batch), "ns/event")
				})
			}
		}
	}
}

// BenchmarkIngestRawPublish is the baseline: the same events published to
// JetStream one per message, with asynchronous publishes and every
// acknowledgement awaited, on the same kind of engine.
func BenchmarkIngestRawPublish(b *testing.B) {
	for _, mode := range fsyncModes {
		b.Run(mode.name, func(b *testing.B) {
			e := enginetest.Start(b, enginetest.WithFsync(mode.policy))
			js, err := jetstream.New(e.Conn(), jetstream.WithPublishAsyncMaxPending(4000))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "raw", Subjects: []string{"raw.*"}}); err != nil {
				b.Fatal(err)
			}
			events := make([][]byte, 10000)
			for i := range events {
				events[i] = clickEvent(i)
			}
			b.SetBytes(int64(len(events[0])))
			b.ResetTimer()
			start := time.Now()
			n := 0
			for b.Loop() {
				if _, err := js.PublishAsync("raw."+strconv.Itoa(n%4), events[n%len(events)], jetstream.WithStallWait(time.Minute)); err != nil {
					b.Fatal(err)
				}
				n++
			}
			<-js.PublishAsyncComplete()
			elapsed := time.Since(start)
			b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/event")
		})
	}
}

// latencies collects samples and reports percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		b.Fatal("no samples")
	}
	slices.Sort(l.d)
	q := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(0.999), "p99.9-ms")
	b.ReportMetric(float64(len(l.d)), "samples")
}

// paced calls send every tick with the events due, each stamped with its
// scheduled time (so a slow send delays the measurement, not the schedule).
func paced(ctx context.Context, rate int, tick time.Duration, send func(due time.Time, n int)) {
	start := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := int(now.Sub(start).Seconds()*float64(rate)) - sent
			if due > 0 {
				send(start.Add(time.Duration(float64(sent+due)/float64(rate)*float64(time.Second))), due)
				sent += due
			}
		}
	}
}

const latencyRun = 6 * time.Second

// BenchmarkPutReadLatency measures put → read latency at a steady 10,000
// events/s: clients post batches of the events due every millisecond to the
// native API, and a subscriber per partition receives them from the engine.
// Latency is receive time minus the event's scheduled send time.
func BenchmarkPutReadLatency(b *testing.B) {
	for _, mode := range fsyncModes {
		b.Run(mode.name+"/rate=10000", func(b *testing.B) {
			for b.Loop() {
				s := startBench(b, mode.policy, 4)
				measurePutRead(b, s, 10000)
			}
		})
	}
}

func measurePutRead(b *testing.B, s *benchServer, rate int) {
	ctx, cancel := context.WithTimeout(context.Background(), latencyRun+2*time.Second)
	defer cancel()
	st, err := s.streams.Open(ctx, "clicks")
	if err != nil {
		b.Fatal(err)
	}
	var lat latencies
	warm := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for p := range st.Partitions() {
		sub, err := st.Subscribe(ctx, p, stream.Position{})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Stop()
			for {
				recs, err := sub.Next(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				for _, r := range recs {
					due := time.Unix(0, dueOf(r.Data))
					if due.After(warm) {
						lat.add(now.Sub(due))
					}
				}
			}
		})
	}
	work := make(chan []byte, 64)
	for range 8 {
		wg.Go(func() {
			for body := range work {
				if err := s.post(body, false); err != nil {
					b.Error(err)
				}
			}
		})
	}
	id := 0
	pctx, pcancel := context.WithTimeout(ctx, latencyRun)
	paced(pctx, rate, time.Millisecond, func(due time.Time, n int) {
		var buf bytes.Buffer
		buf.WriteString(`{"records":[`)
		for i := range n {
			if i > 0 {
				buf.WriteByte(',')
			}
			// The scheduled time travels in the event.
			fmt.Fprintf(&buf, `{"partition_key":"p-%05d","data":{"pad":"%s","due":%d}}`, id%10000, pad, due.UnixNano())
			id++
		}
		buf.WriteString("]}")
		select {
		case work <- buf.Bytes():
		default:
			b.Error("senders fell behind the schedule")
		}
	})
	pcancel()
	close(work)
	time.AfterFunc(time.Second, cancel)
	wg.Wait()
	lat.report(b)
}

var pad = string(bytes.Repeat([]byte("x"), 170))

// dueOf reads the "due" number that ends an event `{...,"due":N}`.
func dueOf(data []byte) int64 {
	i := bytes.LastIndexByte(data, ':')
	n, _ := strconv.ParseInt(string(data[i+1:len(data)-1]), 10, 64)
	return n
}

// BenchmarkRawPublishConsumeLatency is the baseline for the latency
// benchmark: one event per JetStream message, published asynchronously at a
// steady 10,000 events/s and received by an ordered consumer.
func BenchmarkRawPublishConsumeLatency(b *testing.B) {
	for _, mode := range fsyncModes {
		b.Run(mode.name+"/rate=10000", func(b *testing.B) {
			for b.Loop() {
				e := enginetest.Start(b, enginetest.WithFsync(mode.policy))
				measureRaw(b, e, 10000)
			}
		})
	}
}

func measureRaw(b *testing.B, e *engine.Engine, rate int) {
	ctx, cancel := context.WithTimeout(context.Background(), latencyRun+2*time.Second)
	defer cancel()
	js, _ := jetstream.New(e.Conn())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "raw", Subjects: []string{"raw.*"}}); err != nil {
		b.Fatal(err)
	}
	rc, err := e.Connect("bench-consumer")
	if err != nil {
		b.Fatal(err)
	}
	rjs, _ := jetstream.New(rc)
	cons, err := rjs.OrderedConsumer(ctx, "raw", jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	var lat latencies
	warm := time.Now().Add(time.Second)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		d := m.Data()
		due := time.Unix(0, int64(binary.BigEndian.Uint64(d[len(d)-8:])))
		if due.After(warm) {
			lat.add(time.Since(due))
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 192)
	pctx, pcancel := context.WithTimeout(ctx, latencyRun)
	paced(pctx, rate, time.Millisecond, func(due time.Time, n int) {
		for range n {
			msg := append(slices.Clone(payload), 0, 0, 0, 0, 0, 0, 0, 0)
			binary.BigEndian.PutUint64(msg[len(msg)-8:], uint64(due.UnixNano()))
			if _, err := js.PublishAsync("raw.0", msg); err != nil {
				b.Error(err)
			}
		}
	})
	pcancel()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Second):
	}
	cc.Stop()
	lat.report(b)
}
