package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
)

const cliJob = `kind: job
name: counts
source:
  stream: clicks
  start: trim_horizon
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: event_time, type: timestamp}
    - {name: event_type, type: string}
    - {name: product_id, type: string}
    - {name: price, type: double}
transforms:
  - filter: 'event_type != "bot"'
window:
  key: [product_id]
  allowed_lateness: 1s
  aggregates:
    - {name: views, count_if: 'event_type == "view"'}
sink: {table: features}
dead_letter: clicks_dlq
`

// jobStatusJSON runs job status --json and returns its fields.
func jobStatusJSON(t *testing.T, url, job string) map[string]any {
	t.Helper()
	out, err := cli(t, "--server", url, "job", "status", job, "--json")
	require.NoError(t, err)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// num reads a counter of job status --json.
func num(t *testing.T, st map[string]any, key string) uint64 {
	t.Helper()
	v, ok := st[key].(float64)
	require.True(t, ok, "status has no number %q: %v", key, st)
	return uint64(v)
}

// requireAccounted asserts records_in = records_processed + filtered +
// dead_lettered.
func requireAccounted(t *testing.T, st map[string]any) {
	t.Helper()
	require.Equal(t, num(t, st, "records_in"), num(t, st, "records_processed")+num(t, st, "filtered")+num(t, st, "dead_lettered"), "every input accounted for: %v", st)
}

// TestCLIJob drives a job through the CLI against a server: apply (and an
// apply that fails with every problem's path), list, describe, status
// --json with the counters, dlq, stop (the lag grows), start (it catches
// up from its checkpoint), replay-dlq and delete.
func TestCLIJob(t *testing.T) {
	url := startApp(t)
	c := client.New(url)
	ctx := context.Background()
	_, err := c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 2})
	require.NoError(t, err)
	_, err = c.CreateTable(ctx, api.TableSpec{Name: "features", PartitionKey: api.KeyAttr{Name: "product_id", Type: "S"}})
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "counts.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cliJob), 0o600))
	// Other definitions beside the job are not jobs: skipped.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00-streams.yaml"), []byte("kind: stream\nname: clicks\npartitions: 2\n"), 0o600))
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(strings.Replace(cliJob, "name: counts", "name: bad", 1),
		`filter: 'event_type != "bot"'`, `filter: 'prise > 1'`, 1)), 0o600))

	out, err := cli(t, "--server", url, "job", "apply", "-f", bad)
	require.ErrorAs(t, err, new(exitError))
	out, err = cli(t, "--server", url, "job", "apply", "-f", dir)
	require.NoError(t, err)
	require.Equal(t, "job counts created\n", out)
	out, err = cli(t, "--server", url, "job", "apply", "-f", file)
	require.NoError(t, err)
	require.Equal(t, "job counts unchanged\n", out)
	out, err = cli(t, "--server", url, "job", "list")
	require.NoError(t, err)
	require.Regexp(t, `counts\s+(starting|running)`, out)
	require.NotContains(t, out, "bad")
	out, err = cli(t, "--server", url, "job", "describe", "counts")
	require.NoError(t, err)
	require.Contains(t, out, `"dead_letter": "clicks_dlq"`)

	put := func(events ...string) {
		t.Helper()
		var recs []api.PutRecord
		for _, e := range events {
			var k struct {
				ProductID string `json:"product_id"`
			}
			if json.Unmarshal([]byte(e), &k) != nil || k.ProductID == "" {
				k.ProductID = "none"
			}
			recs = append(recs, api.PutRecord{PartitionKey: k.ProductID, Data: json.RawMessage(e)})
		}
		res, err := c.PutRecords(ctx, "clicks", recs)
		require.NoError(t, err)
		require.Zero(t, res.FailedRecordCount)
	}
	waitIn := func(want uint64) map[string]any {
		t.Helper()
		var st map[string]any
		poll(t, func() error {
			st = jobStatusJSON(t, url, "counts")
			if got := num(t, st, "records_in"); got != want || st["state"] != "running" {
				return fmt.Errorf("records_in %d of %d, state %v", got, want, st["state"])
			}
			return nil
		})
		requireAccounted(t, st)
		return st
	}
	put(clickAt(1, "view", "p1"), clickAt(2, "view", "p1"), clickAt(3, "bot", "p2"), clickAt(150, "view", "p3"),
		`{"event_time":"yesterday","event_type":"view","product_id":"p1"}`, clickAt(4, "view", "p3"))
	st := waitIn(6)
	for _, key := range []string{"records_in", "records_processed", "filtered", "dead_lettered", "late", "rows_written", "lag_records"} {
		num(t, st, key)
	}
	require.EqualValues(t, 1, num(t, st, "filtered"))
	require.EqualValues(t, 2, num(t, st, "dead_lettered"), "an event time that does not parse, and a late event")
	require.EqualValues(t, 1, num(t, st, "late"))
	require.EqualValues(t, 0, num(t, st, "lag_records"))
	wm, err := time.Parse(time.RFC3339, fmt.Sprint(st["watermark"]))
	require.NoError(t, err, "watermark %v", st["watermark"])
	// The job's watermark is its partitions' lowest: newest event time there
	// − 1s lateness (00:00:01 where only p1 and p2 arrived, 00:02:29 where p3 did).
	require.Contains(t, []time.Time{time.Date(2019, 10, 1, 0, 0, 1, 0, time.UTC), time.Date(2019, 10, 1, 0, 2, 29, 0, time.UTC)}, wm.UTC())
	poll(t, func() error {
		if n := num(t, jobStatusJSON(t, url, "counts"), "rows_written"); n == 0 {
			return fmt.Errorf("no rows written")
		}
		return nil
	})
	out, err = cli(t, "--server", url, "job", "status", "counts")
	require.NoError(t, err)
	require.Contains(t, out, "records in 6 = processed 3 + filtered 1 + dead-lettered 2 (late 1)")
	// The same per job in /metrics, with lag, watermark and stage latencies.
	metrics := scrape(t, url)
	for _, want := range []string{
		`pricestream_etl_records_in_total{job="counts"} 6`,
		`pricestream_etl_records_processed_total{job="counts"} 3`,
		`pricestream_etl_records_filtered_total{job="counts"} 1`,
		`pricestream_etl_records_dead_lettered_total{job="counts"} 2`,
		`pricestream_etl_records_late_total{job="counts"} 1`,
		`pricestream_etl_lag_records{job="counts"} 0`,
		`pricestream_etl_watermark_timestamp_seconds{job="counts"} 1.569888`,
		`pricestream_etl_stage_seconds_count{job="counts",stage="process"}`,
		`pricestream_etl_rows_written_total{job="counts"}`,
	} {
		require.Contains(t, metrics, want)
	}

	out, err = cli(t, "--server", url, "job", "dlq", "counts")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^decode\s+decode\s+clicks/\d\s+\S+`, out)
	require.Regexp(t, `(?m)^late\s+window\s+clicks/\d\s+\S+`, out)

	// Stopped, the job reports from its checkpoints, and its lag grows.
	out, err = cli(t, "--server", url, "job", "stop", "counts")
	require.NoError(t, err)
	require.Equal(t, "job counts stopping\n", out)
	poll(t, func() error {
		if s := jobStatusJSON(t, url, "counts")["state"]; s != "stopped" {
			return fmt.Errorf("state %v", s)
		}
		return nil
	})
	put(clickAt(151, "view", "p3"), clickAt(152, "view", "p3"))
	poll(t, func() error {
		st := jobStatusJSON(t, url, "counts")
		if num(t, st, "lag_records") != 2 || num(t, st, "records_in") != 6 {
			return fmt.Errorf("stopped: lag %v, records_in %v", st["lag_records"], st["records_in"])
		}
		return nil
	})
	out, err = cli(t, "--server", url, "job", "start", "counts")
	require.NoError(t, err)
	require.Equal(t, "job counts started\n", out)
	st = waitIn(8)
	require.EqualValues(t, 0, num(t, st, "lag_records"))
	poll(t, func() error {
		raw, err := c.GetItem(ctx, "features", true, "p3")
		if err != nil || !strings.Contains(string(raw), `"views":3`) {
			return fmt.Errorf("p3 row %s %v", raw, err)
		}
		return nil
	})

	// The dead letters go through again, each once.
	out, err = cli(t, "--server", url, "job", "replay-dlq", "counts")
	require.NoError(t, err)
	require.Equal(t, "replayed 2 dead letters of counts\n", out)
	waitIn(10)
	out, err = cli(t, "--server", url, "job", "delete", "counts")
	require.NoError(t, err)
	require.Equal(t, "job counts deleted\n", out)
	_, err = cli(t, "--server", url, "job", "status", "counts")
	require.ErrorContains(t, err, "not_found")
}

func clickAt(sec int, typ, product string) string {
	return fmt.Sprintf(`{"event_time":"2019-10-01T00:%02d:%02dZ","event_type":%q,"product_id":%q,"price":1}`, sec/60, sec%60, typ, product)
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
