package etl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
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
	m, err := New(Config{CheckpointInterval: 50 * time.Millisecond}, Deps{Engine: e.eng, Streams: e.streams, Tables: e.tables, Registerer: reg})
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(rctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
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
