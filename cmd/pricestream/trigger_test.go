package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/trigger"
)

// TestCLITrigger drives triggers end to end through the CLI: an HTTP
// function on a loopback server receives a stream's records.
func TestCLITrigger(t *testing.T) {
	url := startApp(t)
	var mu sync.Mutex
	got := map[string]int{} // function path -> records received
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ Records []json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[r.URL.Path] += len(ev.Records)
		mu.Unlock()
	}))
	defer fn.Close()
	received := func(path string, n int) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if got[path] != n {
				return fmt.Errorf("%s received %d records, want %d", path, got[path], n)
			}
			return nil
		}
	}
	c := client.New(url)
	ctx := context.Background()
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 2})
	require.NoError(t, err)
	put := func(n int) {
		var recs []api.PutRecord
		for i := range n {
			recs = append(recs, api.PutRecord{PartitionKey: fmt.Sprint("p", i), Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
		}
		_, err := c.PutRecords(ctx, "clicks", recs)
		require.NoError(t, err)
	}
	put(10)

	out, err := cli(t, "--server", url, "trigger", "create", "hook", "--source", "stream:clicks", "--function", "http:"+fn.URL+"/a",
		"--batch-size", "5", "--batching-window", "10ms", "--filter", `{"data":{"i":[{"numeric":[">=",0]}]}}`)
	require.NoError(t, err)
	require.Contains(t, out, "created trigger hook: stream:clicks -> "+fn.URL+"/a, batches of up to 5")
	poll(t, received("/a", 10))

	out, err = cli(t, "--server", url, "trigger", "list")
	require.NoError(t, err)
	require.Contains(t, out, "hook")
	require.Contains(t, out, "stream:clicks")

	out, err = cli(t, "--server", url, "trigger", "describe", "hook")
	require.NoError(t, err)
	var st trigger.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "running", st.State)
	require.Len(t, st.Partitions, 2)

	_, err = cli(t, "--server", url, "trigger", "disable", "hook")
	require.NoError(t, err)
	put(4)
	_, err = cli(t, "--server", url, "trigger", "enable", "hook")
	require.NoError(t, err)
	poll(t, received("/a", 14))

	// apply -f DIR: updates hook to another path and creates a second one.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hook.yaml"), []byte(fmt.Sprintf("name: hook\nsource: stream:clicks\nfunction: %s/b\n---\nname: hook2\nsource: stream:clicks\nfunction: %s/c\nstarting_position: latest\n", fn.URL, fn.URL)), 0o644))
	out, err = cli(t, "--server", url, "trigger", "apply", "-f", dir)
	require.NoError(t, err)
	require.Contains(t, out, "updated trigger hook")
	require.Contains(t, out, "created trigger hook2")
	poll(t, func() error {
		for _, name := range []string{"hook", "hook2"} {
			st, err := c.DescribeTrigger(ctx, name)
			if err != nil {
				return err
			}
			if st.State != "running" || st.Partitions[0].State != "running" || st.Partitions[1].State != "running" {
				return fmt.Errorf("%s is %s", name, st.State)
			}
		}
		return nil
	})
	put(3)
	poll(t, received("/b", 3)) // hook resumes from its checkpoint
	poll(t, received("/c", 3))

	// A bad file is refused with every problem, and nothing is applied.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name": "x y", "source": "stream:clicks", "function": "go:f", "batch_size": 0, "parallelism": 99}`), 0o644))
	_, err = cli(t, "--server", url, "trigger", "apply", "-f", dir)
	require.ErrorContains(t, err, "bad.json")
	require.ErrorContains(t, err, "parallelism: must be 1-10")
	require.ErrorContains(t, err, "name: want 1-64")

	_, err = cli(t, "--server", url, "trigger", "create", "hook", "--source", "stream:clicks", "--function", "http:"+fn.URL)
	require.ErrorContains(t, err, "already_exists")
	_, err = cli(t, "--server", url, "trigger", "create", "x", "--source", "stream:nope", "--function", "go:none")
	require.ErrorContains(t, err, "invalid_argument")

	for _, name := range []string{"hook", "hook2"} {
		_, err = cli(t, "--server", url, "trigger", "delete", name)
		require.NoError(t, err)
	}
	_, err = cli(t, "--server", url, "trigger", "describe", "hook")
	require.ErrorContains(t, err, "not_found")
}

func poll(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		<-time.After(5 * time.Millisecond)
	}
	t.Fatalf("condition not met: %v", errors.Join(err))
}
