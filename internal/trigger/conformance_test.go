package trigger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/trigger"
)

// The conformance suite runs the same cases against each kind of function:
// a Go function, an HTTP function on a loopback server, and a WebAssembly
// module compiled from Go (wasmabi/example). Each implements the same
// behaviour, driven by the record's data: {"fail": "error"} fails the
// batch, {"fail": "item"} reports the record as failed, {"fail": "spin"}
// runs past the function timeout; other records succeed.

type confRecord struct {
	seq  string
	data []byte
}

// confHandle is the behaviour, for the Go and HTTP kinds.
func confHandle(ctx context.Context, recs []confRecord) (trigger.Response, error) {
	var resp trigger.Response
	for _, r := range recs {
		var d struct {
			Fail string `json:"fail"`
		}
		_ = json.Unmarshal(r.data, &d)
		switch d.Fail {
		case "error":
			return trigger.Response{}, errors.New("poison record " + r.seq)
		case "item":
			resp.BatchItemFailures = append(resp.BatchItemFailures, trigger.BatchItemFailure{ItemIdentifier: r.seq})
		case "spin":
			<-ctx.Done()
			return trigger.Response{}, ctx.Err()
		}
	}
	return resp, nil
}

type functionKind struct {
	name string
	// setup makes the function available and returns its spec reference.
	setup func(t *testing.T, e *env) string
}

var functionKinds = []functionKind{
	{"go", func(t *testing.T, e *env) string {
		require.NoError(t, e.fns.Register("conf", trigger.FunctionOf(func(ctx context.Context, b *trigger.Batch) (trigger.Response, error) {
			recs := make([]confRecord, len(b.Records))
			for i, r := range b.Records {
				recs[i] = confRecord{seq: r.SequenceNumber, data: r.Data}
			}
			return confHandle(ctx, recs)
		})))
		return "go:conf"
	}},
	{"http", func(t *testing.T, _ *env) string {
		return "http:" + newLambdaServer(t, func(ctx context.Context, ev kinesisEvent) (trigger.Response, error) {
			recs := make([]confRecord, len(ev.Records))
			for i, r := range ev.Records {
				recs[i] = confRecord{seq: r.Kinesis.SequenceNumber, data: r.Kinesis.Data}
			}
			return confHandle(ctx, recs)
		}).URL + "/fn"
	}},
	{"wasm", func(t *testing.T, _ *env) string {
		return "wasm:" + exampleWasm(t)
	}},
}

type kinesisEvent struct {
	Records []struct {
		Kinesis struct {
			PartitionKey   string  `json:"partitionKey"`
			SequenceNumber string  `json:"sequenceNumber"`
			Data           []byte  `json:"data"` // base64 in JSON
			Arrival        float64 `json:"approximateArrivalTimestamp"`
		} `json:"kinesis"`
		EventSource    string `json:"eventSource"`
		EventName      string `json:"eventName"`
		EventID        string `json:"eventID"`
		EventSourceARN string `json:"eventSourceARN"`
	} `json:"Records"`
}

// newLambdaServer serves a function on a loopback port as an HTTP
// function endpoint: the event in, 500 for an error, a partial-batch
// response otherwise.
func newLambdaServer(t *testing.T, fn func(context.Context, kinesisEvent) (trigger.Response, error)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev kinesisEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := fn(r.Context(), ev)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var wasmBuild struct {
	once sync.Once
	path string
	err  error
}

// exampleWasm builds wasmabi/example once per test binary, or skips.
func exampleWasm(t *testing.T) string {
	t.Helper()
	wasmBuild.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			wasmBuild.err = fmt.Errorf("no go toolchain on PATH: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "pricestream-wasm")
		if err != nil {
			wasmBuild.err = err
			return
		}
		cleanupDirs = append(cleanupDirs, dir)
		out := filepath.Join(dir, "example.wasm")
		cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "./wasmabi/example")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			wasmBuild.err = fmt.Errorf("go build: %v: %s", err, b)
			return
		}
		wasmBuild.path = out
	})
	if wasmBuild.err != nil {
		t.Skipf("cannot build the WebAssembly example guest (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared ./internal/trigger/wasmabi/example): %v", wasmBuild.err)
	}
	return wasmBuild.path
}

// cleanupDirs are removed by TestMain after the tests.
var cleanupDirs []string

func TestTriggerConformance(t *testing.T) {
	for _, k := range functionKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Run("Success", func(t *testing.T) { confCase(t, k, "", "", 0) })
			t.Run("ErrorBisect", func(t *testing.T) {
				confCase(t, k, "bisect_batch_on_error: true\nmax_retry_attempts: 1\n", `"fail":"error"`, 7)
			})
			t.Run("ItemFailure", func(t *testing.T) {
				confCase(t, k, "bisect_batch_on_error: true\nreport_batch_item_failures: true\nmax_retry_attempts: 1\n", `"fail":"item"`, 12)
			})
			t.Run("Timeout", func(t *testing.T) {
				confCase(t, k, "bisect_batch_on_error: true\nmax_retry_attempts: 0\nfunction_timeout: 1s\n", `"fail":"spin"`, 3)
			})
		})
	}
}

// confCase puts 20 records, record bad carrying fail (none when fail is
// ""), and checks that every other record is processed and exactly the bad
// one reaches the destination.
func confCase(t *testing.T, k functionKind, extra, fail string, bad int) {
	e := newEnv(t)
	s := e.createStream("clicks", 2)
	dlq := e.createStream("dlq", 1)
	fn := k.setup(t, e)
	const n = 20
	e.put(s, n, n, keyN(4), func(i int) string {
		if fail != "" && i == bad {
			return fmt.Sprintf(`{"i":%d,%s}`, i, fail)
		}
		return dataN(i)
	})
	e.apply(fmt.Sprintf("name: conf\nsource: stream:clicks\nfunction: %q\nbatch_size: 10\ndestination: dlq\n%s", fn, extra))
	wantFailed := 0
	if fail != "" {
		wantFailed = 1
	}
	waitFor(t, 60*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "conf")
		if err != nil {
			return err
		}
		var processed, failed int64
		for _, p := range st.Partitions {
			processed += p.Processed
			failed += p.Failed
			if p.LagRecords != 0 {
				return fmt.Errorf("partition %d lags %d (state %s %s)", p.Partition, p.LagRecords, p.State, p.Error)
			}
		}
		if processed != int64(n-wantFailed) || failed != int64(wantFailed) {
			return fmt.Errorf("processed %d failed %d", processed, failed)
		}
		return nil
	})
	frs := failedRecords(t, dlq)
	require.Len(t, frs, wantFailed)
	if wantFailed == 1 {
		var rec kinesisEvent
		require.NoError(t, json.Unmarshal([]byte(`{"Records":[`+string(frs[0].Record)+`]}`), &rec))
		require.Contains(t, string(rec.Records[0].Kinesis.Data), fail)
		switch fail {
		case `"fail":"error"`:
			require.Contains(t, frs[0].Error, "poison record "+frs[0].SequenceNumber)
		case `"fail":"item"`:
			require.Contains(t, frs[0].Error, "function reported 1 failed records")
		case `"fail":"spin"`:
			require.Contains(t, frs[0].Error, "timed out after 1s")
		}
	}
}

// TestTriggerHTTPFunction checks what an HTTP function receives, and that
// a failing endpoint is retried.
func TestTriggerHTTPFunction(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	var mu sync.Mutex
	var events []kinesisEvent
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		require.Equal(t, "application/json", r.Header.Get("Content-Type"))
		require.Equal(t, "hook", r.Header.Get("X-Pricestream-Trigger"))
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		var ev kinesisEvent
		require.NoError(t, json.Unmarshal(b, &ev))
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		// An empty 200 is success.
	}))
	defer srv.Close()
	e.put(s, 5, 5, keyN(1), dataN)
	e.apply(fmt.Sprintf("name: hook\nsource: stream:clicks\nfunction: %s\n", srv.URL))
	waitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(events) == 0 {
			return errors.New("no event yet")
		}
		return nil
	})
	mu.Lock()
	ev := events[0]
	mu.Unlock()
	require.Len(t, ev.Records, 5)
	for i, r := range ev.Records {
		require.Equal(t, dataN(i), string(r.Kinesis.Data))
		require.Equal(t, "k0", r.Kinesis.PartitionKey)
		require.Equal(t, "aws:kinesis", r.EventSource)
		require.Equal(t, "aws:kinesis:record", r.EventName)
		require.Equal(t, "shardId-000000000000:"+r.Kinesis.SequenceNumber, r.EventID)
		require.Equal(t, "arn:aws:kinesis:us-east-1:000000000000:stream/clicks", r.EventSourceARN)
		require.InDelta(t, float64(time.Now().Unix()), r.Kinesis.Arrival, 60)
	}
	requireCounter(t, e, "pricestream_trigger_retries_total", 1)
}
