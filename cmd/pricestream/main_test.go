package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/app/apptest"
	"github.com/pricestream/pricestream/internal/client"
)

// startApp runs a whole pricestream in the test process on a loopback port.
func startApp(t *testing.T, mutate ...func(*app.Config)) string {
	t.Helper()
	return "http://" + apptest.Start(t, mutate...).Addr()
}

// cli runs the pricestream command with args and returns its output.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), err
}

const rees46 = "../../examples/data/rees46-2019-oct-sample.csv"

// eachRecord calls fn with every record the stream holds, partition by
// partition, each from its start.
func eachRecord(t *testing.T, c *client.Client, stream string, fn func(client.Record)) {
	t.Helper()
	ctx := context.Background()
	info, err := c.DescribeStream(ctx, stream)
	require.NoError(t, err)
	for _, p := range info.Partitions {
		for start := "trim_horizon"; ; {
			res, err := c.GetRecords(ctx, stream, client.ReadOptions{Partition: p.ID, Start: start, Limit: 10000})
			require.NoError(t, err)
			if len(res.Records) == 0 {
				break
			}
			for _, r := range res.Records {
				fn(r)
			}
			start = res.Next
		}
	}
}

func TestCLIStreamPutREES46(t *testing.T) {
	_, err := os.Stat(rees46)
	require.NoError(t, err, "the REES46 sample belongs in examples/data")
	url := startApp(t)
	out, err := cli(t, "--server", url, "stream", "create", "clicks", "--partitions", "4")
	require.NoError(t, err)
	require.Contains(t, out, "created stream clicks: 4 partitions")

	out, err = cli(t, "--server", url, "stream", "put", "clicks", "--file", rees46, "--partition-key", "product_id")
	require.NoError(t, err)
	require.Contains(t, out, "put 1000 records to clicks")
	require.Contains(t, out, "0 failed, 0 input rows rejected")

	// Every row arrived, keyed by its product_id, with exact ids and nulls
	// for empty fields; rows of one product keep the file's order.
	c := client.New(url)
	byKey := map[string][]string{}
	total := 0
	for part := range 4 {
		r, err := c.GetRecords(context.Background(), "clicks", client.ReadOptions{Partition: part, Limit: 10000})
		require.NoError(t, err)
		for _, rec := range r.Records {
			var ev map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(rec.Data, &ev))
			require.Equal(t, rec.PartitionKey, string(ev["product_id"]))
			byKey[rec.PartitionKey] = append(byKey[rec.PartitionKey], string(ev["event_time"]))
			total++
		}
	}
	require.Equal(t, 1000, total)
	first := readFirstRecordOf(t, c, "clicks", "44600062")
	require.Equal(t, "2103807459595387724", string(first["category_id"]), "ids beyond 2^53 stay exact")
	require.Equal(t, "null", string(first["category_code"]))
	require.Equal(t, `"shiseido"`, string(first["brand"]))
	require.Equal(t, "35.79", string(first["price"]))
	for k, times := range byKey {
		for i := 1; i < len(times); i++ {
			require.LessOrEqual(t, times[i-1], times[i], "order of product %s", k)
		}
	}

	out, err = cli(t, "--server", url, "stream", "list")
	require.NoError(t, err)
	require.Contains(t, out, "clicks")
	out, err = cli(t, "--server", url, "stream", "tail", "clicks", "--from", "trim_horizon", "--limit", "3", "--data")
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 3)
	out, err = cli(t, "--server", url, "stream", "describe", "clicks")
	require.NoError(t, err)
	var info api.StreamInfo
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	require.Positive(t, info.Batches)
	_, err = cli(t, "--server", url, "stream", "delete", "clicks")
	require.NoError(t, err)
	_, err = cli(t, "--server", url, "stream", "describe", "clicks")
	require.ErrorContains(t, err, "not_found")
}

func readFirstRecordOf(t *testing.T, c *client.Client, stream, key string) map[string]json.RawMessage {
	t.Helper()
	for part := range 4 {
		r, err := c.GetRecords(context.Background(), stream, client.ReadOptions{Partition: part, Limit: 10000})
		require.NoError(t, err)
		for _, rec := range r.Records {
			if rec.PartitionKey == key {
				var ev map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(rec.Data, &ev))
				return ev
			}
		}
	}
	t.Fatalf("no record with key %s", key)
	return nil
}

func TestCLIStreamPutBadRows(t *testing.T) {
	url := startApp(t)
	_, err := cli(t, "--server", url, "stream", "create", "s", "--partitions", "1")
	require.NoError(t, err)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "in.jsonl")
	require.NoError(t, os.WriteFile(jsonl, []byte("{\"id\":1}\nnot json\n{\"other\":2}\n\n{\"id\":\"x\"}\n"), 0o644))
	out, err := cli(t, "--server", url, "stream", "put", "s", "--file", jsonl, "--partition-key", "id")
	require.ErrorAs(t, err, new(exitError), "rejected rows make the exit code non-zero")
	require.Contains(t, out, "put 2 records")
	require.Contains(t, out, "2 input rows rejected")

	csvf := filepath.Join(dir, "in.csv")
	require.NoError(t, os.WriteFile(csvf, []byte("id,name\n1,a\n2\n3,\"c\n"), 0o644))
	_, err = cli(t, "--server", url, "stream", "put", "s", "--file", csvf, "--partition-key", "nope")
	require.ErrorContains(t, err, `--partition-key "nope" is not a column`)
	out, err = cli(t, "--server", url, "stream", "put", "s", "--file", csvf, "--partition-key", "id")
	require.Error(t, err)
	require.Contains(t, out, "put 1 records")
	_, err = cli(t, "--server", url, "stream", "put", "missing", "--file", csvf)
	require.ErrorContains(t, err, "not_found")
}

func TestCLIInputValues(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "null",
		"12":                  "12",
		"-0.5":                "-0.5",
		"2103807459595387724": "2103807459595387724",
		"1e5":                 "1e5",
		"007":                 `"007"`,
		"12a":                 `"12a"`,
		"1.":                  `"1."`,
		`a"b`:                 `"a\"b"`,
	} {
		require.Equal(t, want, string(appendCSVValue(nil, in)), in)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary the subprocess tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds the pricestream binary once for the subprocess tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pricestream-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pricestream")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// server is a pricestream serve subprocess.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--log-format", "json"}, extra...)
	cmd := exec.Command(binary(t), args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, logs: new(bytes.Buffer), mu: new(sync.Mutex)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
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

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// TestServeProcs: serve runs with the configured procs, or with the
// GOMAXPROCS variable's value when that is set, and says which.
func TestServeProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tc := range []struct {
		env  string
		want float64
	}{
		{"PRICESTREAM_PROCS=5", 5},
		{"GOMAXPROCS=3", 3},
	} {
		cmd := exec.Command(binary(t), "serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--log-format", "json")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "PRICESTREAM_PROCS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, tc.env)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		// A server that never says it serves is killed, which ends the scan.
		deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
		var got float64
		var logs strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			var l struct {
				Msg   string
				Procs float64
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "pricestream serving" {
				got = l.Procs
				break
			}
		}
		deadline.Stop()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		require.Equal(t, tc.want, got, "%s: %s", tc.env, logs.String())
	}
}

// TestServeSIGKILLKeepsAcknowledgedRecords kills the real binary with
// SIGKILL while clients put records, restarts it on the same data dir, and
// checks that every acknowledged record is readable; three times.
func TestServeSIGKILLKeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	dir := t.TempDir()
	ctx := context.Background()
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := range 3 {
		s := startServer(t, dir)
		c := client.New(s.url)
		if round == 0 {
			_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 4})
			require.NoError(t, err)
		}
		// Everything acknowledged so far survived the previous kill.
		require.Subset(t, readAll(t, c, "clicks"), keys(acked), "round %d", round)

		pctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var n int
		for w := range 4 {
			wg.Go(func() {
				for i := 0; pctx.Err() == nil; i++ {
					var recs []api.PutRecord
					for j := range 50 {
						id := fmt.Sprintf("r%d-w%d-%d-%d", round, w, i, j)
						recs = append(recs, api.PutRecord{PartitionKey: id, Data: json.RawMessage(`"` + id + `"`)})
					}
					res, err := c.PutRecords(pctx, "clicks", recs)
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					for k, r := range res.Records {
						if r.ErrorCode == "" {
							acked[string(recs[k].Data[1:len(recs[k].Data)-1])] = true
							n++
						}
					}
					mu.Unlock()
				}
			})
		}
		// Kill once a good number of records is acknowledged this round.
		require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return n >= 2000 }, 60*time.Second, 5*time.Millisecond)
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
		_ = s.cmd.Wait()
		stop()
		wg.Wait()
	}
	s := startServer(t, dir)
	got := readAll(t, client.New(s.url), "clicks")
	for id := range acked {
		require.True(t, got[id], "acknowledged record %s lost", id)
	}
	t.Logf("%d acknowledged records, all readable after 3 SIGKILLs; %d stored in all", len(acked), len(got))
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// readAll returns the set of record data strings of a stream.
func readAll(t *testing.T, c *client.Client, stream string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	info, err := c.DescribeStream(context.Background(), stream)
	require.NoError(t, err)
	for _, p := range info.Partitions {
		start := "trim_horizon"
		for {
			r, err := c.GetRecords(context.Background(), stream, client.ReadOptions{Partition: p.ID, Start: start, Limit: 10000})
			require.NoError(t, err)
			if len(r.Records) == 0 {
				break
			}
			for _, rec := range r.Records {
				var s string
				require.NoError(t, json.Unmarshal(rec.Data, &s))
				out[s] = true
			}
			start = r.Next
		}
	}
	return out
}

func TestServeSIGTERMShutsDownCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	s := startServer(t, t.TempDir())
	require.NoError(t, client.New(s.url).Ready(context.Background()))
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status after SIGTERM: %s", s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM: %s", s.log())
	}
	require.Eventually(t, func() bool { return strings.Contains(s.log(), `"engine stopped"`) }, 5*time.Second, 10*time.Millisecond, s.log())
}

func TestServeRefusesBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("http:\n  addr: 127.0.0.1:0\nengine:\n  namespaces: x\n"), 0o644))
	out, err := exec.Command(binary(t), "serve", "--config", cfg).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "namespaces", "unknown key named")
	require.Contains(t, string(out), "[4:3]", "with its line and column")
	require.NoError(t, os.WriteFile(cfg, []byte("engine:\n  fsync: sometimes\n"), 0o644))
	out, err = exec.Command(binary(t), "serve", "--config", cfg).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), `fsync "sometimes"`)
	out, err = exec.Command(binary(t), "serve", "--fsync", "sometimes", "--data-dir", t.TempDir()).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), `--fsync: engine: fsync "sometimes"`)
}

func TestCLIConfigValidateAndPrint(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("http:\n  addr: 127.0.0.1:9999\nengine:\n  url: nats://user:hunter2@nats-1:4222\n"), 0o644))
	out, err := cli(t, "config", "validate", good)
	require.NoError(t, err)
	require.Contains(t, out, "valid")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("engine:\n  max_payload: 5\nlog:\n  level: loud\n"), 0o644))
	_, err = cli(t, "config", "validate", bad)
	require.ErrorAs(t, err, new(exitError))

	t.Setenv("PRICESTREAM_LOG_LEVEL", "debug")
	out, err = cli(t, "config", "print", "--config", good, "--data-dir", "/srv/ps")
	require.NoError(t, err)
	require.Regexp(t, `http\.addr\s+127\.0\.0\.1:9999`, out, "from the file")
	require.Regexp(t, `log\.level\s+debug`, out, "from the environment")
	require.Regexp(t, `engine\.data_dir\s+/srv/ps`, out, "from a flag")
	require.Contains(t, out, "nats://***@nats-1:4222")
	require.NotContains(t, out, "hunter2")
}

func TestCLIAuthKeys(t *testing.T) {
	const boot = "bootstrap-token-for-tests"
	url := startApp(t, func(c *app.Config) { c.Auth.Enabled, c.Auth.BootstrapToken = true, boot })
	_, err := cli(t, "--server", url, "stream", "list")
	require.ErrorContains(t, err, "unauthenticated")
	token, err := cli(t, "--server", url, "--token", boot, "auth", "create-key", "--name", "ingest", "--scope", "stream:*:put,stream:*:read")
	require.NoError(t, err)
	token = strings.TrimSpace(token)
	require.True(t, strings.HasPrefix(token, "psk_"), token)
	out, err := cli(t, "--server", url, "--token", boot, "auth", "list-keys")
	require.NoError(t, err)
	require.Contains(t, out, "stream:*:put,stream:*:read")
	_, err = cli(t, "--server", url, "--token", token, "stream", "list")
	require.NoError(t, err, "stream:*:read lists streams")
	_, err = cli(t, "--server", url, "--token", token, "stream", "create", "x")
	require.ErrorContains(t, err, "forbidden")
	id := strings.Split(token, "_")[1]
	_, err = cli(t, "--server", url, "--token", boot, "auth", "revoke-key", id)
	require.NoError(t, err)
	_, err = cli(t, "--server", url, "--token", token, "stream", "list")
	require.ErrorContains(t, err, "unauthenticated")
}
