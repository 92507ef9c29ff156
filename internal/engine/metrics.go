package engine

import "github.com/prometheus/client_golang/prometheus"

// metrics are the engine's own: how the group syncs of fsync-always
// writes go (see durability). They stay at zero with interval fsync or an
// external server, which sync on their own.
type metrics struct {
	// syncSeconds is the time of one group sync's fsyncs.
	syncSeconds prometheus.Histogram
	// syncWrites is how many writes one group sync made durable.
	syncWrites prometheus.Histogram
	// durableWait is how long a write waited, once stored, for the sync
	// that made it durable (queueing behind a running sync included).
	durableWait prometheus.Histogram
}

// latencyBuckets cover 25 µs to 10 s.
var latencyBuckets = []float64{.000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pricestream_engine_group_sync_seconds",
			Help:    "Time of one group sync: the fsyncs that make a stream's writes stored since the last one durable (fsync always).",
			Buckets: latencyBuckets,
		}),
		syncWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pricestream_engine_group_sync_writes",
			Help:    "Writes made durable by one group sync (fsync always).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		durableWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pricestream_engine_durable_wait_seconds",
			Help:    "Time a stored write waited for the group sync that made it durable, a sync already running included (fsync always).",
			Buckets: latencyBuckets,
		}),
	}
	if reg != nil {
		reg.MustRegister(m.syncSeconds, m.syncWrites, m.durableWait)
	}
	return m
}
