package etl

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the ETL's Prometheus metrics, labelled by job.
type metrics struct {
	in, processed, filtered, dead, late, rows *prometheus.CounterVec
	refused, retries                          *prometheus.CounterVec
	stage                                     *prometheus.HistogramVec
	endToEnd                                  *prometheus.HistogramVec
	stateBytes                                *prometheus.CounterVec
	pastEnd                                   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pricestream", Subsystem: "etl", Name: name, Help: help}, []string{"job"})
		reg.MustRegister(c)
		return c
	}
	m := &metrics{
		in:        counter("records_in_total", "Source records a job has finished with (processed, filtered or dead-lettered)."),
		processed: counter("records_processed_total", "Source records that reached a sink or a window."),
		filtered:  counter("records_filtered_total", "Source records a transform or an inner join dropped."),
		dead:      counter("records_dead_lettered_total", "Source records sent to the dead-letter stream (late ones included)."),
		late:      counter("records_late_total", "Source records that arrived after their windows closed."),
		rows:      counter("rows_written_total", "Rows a job's sinks wrote."),
		refused:   counter("rows_refused_total", "Rows a job's table sink dropped because the table refused them (a key of the wrong type, an item over the size limit); the log says why."),
		retries:   counter("sink_retries_total", "Sink writes a job retried because the engine did not store them (unavailable, over a stream's limit, timed out): a table row per retry, or a stream append's records that failed. Rising while rows_written_total does not: the sink's table or stream is not taking writes."),
		pastEnd:   counter("checkpoints_past_end_total", "Partitions that started from a checkpoint past their source's end (the source was created again or lost records it had not synced) and read what it stored after the checkpoint instead."),
		// Stages run from ~100 ns (a record's processing) to seconds
		// (a checkpoint under load); buckets a factor of 2 apart (not 4)
		// give a hop's median read from them to within a factor of 2.
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pricestream", Subsystem: "etl", Name: "stage_seconds",
			Help: "Time in a stage: source_wait (per batch: its oldest record's ingest to the worker starting the batch), inbox (per batch: the reader having it to the worker starting it), process (per record: decode, transforms, joins, window), sink_queue (per table write: the newest row it carries waiting from its emit to the write's start), sink_write (one write), snapshot (per checkpoint: beginning its copy-on-write capture on the partition's worker, which holds up its records), snapshot_copy (a slice of that copy the worker takes between records), checkpoint (encoding and writing one checkpoint, in the background).", Buckets: prometheus.ExponentialBuckets(1e-7, 2, 27)}, []string{"job", "stage"}),
		endToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pricestream", Subsystem: "etl", Name: "end_to_end_seconds",
			Help: "Time from a record's arrival (ingest accepted it) to the sink row it produced being stored (a table sink makes its rows durable at its next checkpoint).", Buckets: prometheus.ExponentialBuckets(1e-4, 2, 16)}, []string{"job"}),
	}
	m.stateBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pricestream", Subsystem: "etl", Name: "checkpoint_state_bytes_total",
		Help: "Window state bytes checkpoints wrote, by kind: full (the whole state) or delta (what changed since the previous checkpoint)."}, []string{"job", "kind"})
	reg.MustRegister(m.stage, m.endToEnd, m.stateBytes)
	return m
}

func (m *metrics) forget(job string) {
	for _, c := range []*prometheus.CounterVec{m.in, m.processed, m.filtered, m.dead, m.late, m.rows, m.refused, m.retries, m.pastEnd} {
		c.DeleteLabelValues(job)
	}
	m.stage.DeletePartialMatch(prometheus.Labels{"job": job})
	m.endToEnd.DeleteLabelValues(job)
	m.stateBytes.DeletePartialMatch(prometheus.Labels{"job": job})
}

// statusCollector exports, at each scrape, the lag and watermark of the
// jobs running in this process (they come from the partitions' tips, so
// they are read when asked for rather than kept current).
type statusCollector struct{ m *Manager }

var (
	lagDesc = prometheus.NewDesc("pricestream_etl_lag_records", "Source records a running job has not read yet, over its partitions.", []string{"job"}, nil)
	wmDesc  = prometheus.NewDesc("pricestream_etl_watermark_timestamp_seconds", "A running job's watermark (the lowest of its partitions'), in Unix seconds.", []string{"job"}, nil)
)

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- wmDesc
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	names := make([]string, 0, len(c.m.mu.runs))
	for n := range c.m.mu.runs {
		names = append(names, n)
	}
	c.m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range names {
		st, err := c.m.Status(ctx, n)
		if err != nil || st.State != StateRunning {
			continue
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(st.LagRecords), n)
		if !st.Watermark.IsZero() {
			ch <- prometheus.MustNewConstMetric(wmDesc, prometheus.GaugeValue, float64(st.Watermark.UnixNano())/1e9, n)
		}
	}
}
