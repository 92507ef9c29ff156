package etl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLMetricsStages: a running job observes every stage of a record's
// way through it, so its end-to-end latency can be taken apart: the wait
// before its worker (source_wait, inbox), process, the wait in the table
// sink (sink_queue) and the write (sink_write), per stage and job.
func TestETLMetricsStages(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	src, _ := e.clicksAndFeatures(t, 2)
	reg := prometheus.NewRegistry()
	m, _ := e.startManagerWith(t, reg, nil)
	spec, err := Decode([]byte(countJob))
	require.NoError(t, err)
	_, err = m.Apply(ctx, spec)
	require.NoError(t, err)
	put(t, src, clickAt(1, "view", "p1", 10), clickAt(2, "view", "p2", 10), clickAt(3, "purchase", "p1", 10))

	counts := func() (map[string]uint64, error) {
		mfs, err := reg.Gather()
		if err != nil {
			return nil, err
		}
		out := map[string]uint64{}
		for _, mf := range mfs {
			if mf.GetName() != "pricestream_etl_stage_seconds" {
				continue
			}
			for _, mt := range mf.GetMetric() {
				var job, stage string
				for _, l := range mt.GetLabel() {
					switch l.GetName() {
					case "job":
						job = l.GetValue()
					case "stage":
						stage = l.GetValue()
					}
				}
				if job == "counts" {
					out[stage] = mt.GetHistogram().GetSampleCount()
				}
			}
		}
		return out, nil
	}
	waitFor(t, 10*time.Second, func() error {
		c, err := counts()
		if err != nil {
			return err
		}
		for _, s := range []string{"source_wait", "inbox", "process", "sink_queue", "sink_write", "snapshot", "checkpoint"} {
			if c[s] == 0 {
				return fmt.Errorf("no %s observations: %v", s, c)
			}
		}
		return nil
	})
	c, err := counts()
	require.NoError(t, err)
	require.LessOrEqual(t, c["sink_queue"], c["sink_write"], "one wait per write at most")
	require.LessOrEqual(t, c["source_wait"], uint64(3), "per batch, not more than per record")
}

// TestETLMetricsSinkRefusedAndRetried: a job counts the rows its table
// refused (dropped, pricestream_etl_rows_refused_total) and the writes it
// retried while the engine stored nothing (pricestream_etl_sink_retries_total),
// so an operator sees both without reading the log; the retried rows are
// written once the engine stores again.
func TestETLMetricsSinkRefusedAndRetried(t *testing.T) {
	eng := enginetest.Start(t)
	e := newTestEnv(t, eng)
	ctx := context.Background()
	src, features := e.clicksAndFeatures(t, 1)
	// A table keyed by a number: the job's string product ids are refused.
	_, err := e.tables.Create(ctx, table.Spec{Name: "by_number", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.N}}})
	require.NoError(t, err)
	// The features table's stream stores nothing until the limit is lifted.
	enginetest.LimitBytes(t, eng, eng.Name("table", "features"), 1)

	reg := prometheus.NewRegistry()
	var log lockedBuffer
	m, _ := e.startManagerWith(t, reg, slog.New(slog.NewTextHandler(&log, nil)))
	for _, doc := range []string{countJob, `
name: copies
source:
  stream: clicks
  start: trim_horizon
  schema:
    - {name: product_id, type: string}
    - {name: price, type: double}
sink: {table: by_number}
dead_letter: clicks_dlq
`} {
		spec, err := Decode([]byte(doc))
		require.NoError(t, err)
		_, err = m.Apply(ctx, spec)
		require.NoError(t, err)
	}
	const products = 20
	var events []string
	for i := range products {
		events = append(events, clickAt(i, "view", fmt.Sprintf("p%d", i), 10))
	}
	put(t, src, events...)

	counter := func(name, job string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, mt := range mf.GetMetric() {
				for _, l := range mt.GetLabel() {
					if l.GetName() == "job" && l.GetValue() == job {
						return mt.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	waitFor(t, 10*time.Second, func() error {
		if n := counter("pricestream_etl_rows_refused_total", "copies"); n != products {
			return fmt.Errorf("copies: %v rows refused, want %d", n, products)
		}
		if n := counter("pricestream_etl_sink_retries_total", "counts"); n == 0 {
			return errors.New("counts: no write retried yet")
		}
		return nil
	})
	// Refusals are logged once a second, not each: a job whose every row
	// is refused does not flood the log.
	lines := strings.Count(log.String(), "sink refused rows; dropped")
	require.True(t, lines >= 1 && lines < products, "%d lines for %d refused rows:\n%s", lines, products, log.String())
	require.Zero(t, counter("pricestream_etl_rows_written_total", "copies"))
	require.Zero(t, counter("pricestream_etl_rows_written_total", "counts"), "nothing stored while the stream is over its limit")
	require.Zero(t, counter("pricestream_etl_rows_refused_total", "counts"), "retried, not refused")

	enginetest.LimitBytes(t, eng, eng.Name("table", "features"), -1)
	waitFor(t, 10*time.Second, func() error {
		for i := range products {
			id := fmt.Sprintf("p%d", i)
			if it, err := features.Get(ctx, item.Key{Partition: item.StringValue(id)}, table.GetOptions{Consistent: true}); err != nil || it == nil {
				return fmt.Errorf("%s: not written yet (err %v)", id, err)
			}
		}
		return nil
	})
	require.NotZero(t, counter("pricestream_etl_rows_written_total", "counts"))
}

// lockedBuffer is a log's destination read while the log is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
