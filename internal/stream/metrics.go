package stream

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	recordsIn      *prometheus.CounterVec
	bytesIn        *prometheus.CounterVec
	batches        *prometheus.CounterVec
	putSeconds     *prometheus.HistogramVec
	writeErrors    *prometheus.CounterVec
	writeSeconds   prometheus.Histogram
	batchRecords   prometheus.Histogram
	writeConflicts prometheus.Counter
	throttled      *prometheus.CounterVec
}

// latencyBuckets cover 50 µs to 10 s.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_stream_records_in_total", Help: "Records stored (acknowledged) per stream.",
		}, []string{"stream"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_stream_bytes_in_total", Help: "Bytes of record data and partition keys stored per stream.",
		}, []string{"stream"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_stream_batches_total", Help: "Record batches (engine messages) written per stream.",
		}, []string{"stream"}),
		putSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_stream_put_seconds", Help: "Time from accepting a put to every record of it being stored or failed.", Buckets: latencyBuckets,
		}, []string{"stream"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_stream_write_errors_total", Help: "Record batches the engine did not store, per stream.",
		}, []string{"stream"}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_stream_engine_write_seconds", Help: "Time of one record-batch write to the engine, until stored (the fsync that makes it durable is pricestream_engine_durable_wait_seconds).", Buckets: latencyBuckets,
		}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_stream_batch_records", Help: "Records per batch written to the engine (group commit merges concurrent puts).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		writeConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricestream_stream_write_conflicts_total", Help: "Batch writes retried because another writer wrote the same partition.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_stream_throttled_records_total", Help: "Records refused because too much was waiting to be stored in their partition.",
		}, []string{"stream"}),
	}
	reg.MustRegister(m.throttled, m.recordsIn, m.bytesIn, m.batches, m.putSeconds, m.writeErrors, m.writeSeconds, m.batchRecords, m.writeConflicts)
	return m
}

var (
	lagRecordsDesc = prometheus.NewDesc("pricestream_stream_consumer_lag_records", "Records stored in a partition that a named consumer has not committed.", []string{"stream", "consumer", "partition"}, nil)
	lagSecondsDesc = prometheus.NewDesc("pricestream_stream_consumer_lag_seconds", "Arrival time of a partition's newest record minus that of the consumer's last committed record.", []string{"stream", "consumer", "partition"}, nil)
)

// lagCollector reports the lag of the consumers opened through the manager,
// computed when scraped.
type lagCollector struct{ m *Manager }

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagRecordsDesc
	ch <- lagSecondsDesc
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	cons := make([]*Consumer, 0, len(c.m.mu.consumers))
	for _, cn := range c.m.mu.consumers {
		cons = append(cons, cn)
	}
	c.m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, cn := range cons {
		lags, err := cn.Lag(ctx)
		if err != nil {
			continue
		}
		for _, l := range lags {
			p := itoa(l.Partition)
			ch <- prometheus.MustNewConstMetric(lagRecordsDesc, prometheus.GaugeValue, float64(l.Records), cn.s.name, cn.name, p)
			ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, float64(l.Millis)/1000, cn.s.name, cn.name, p)
		}
	}
}
