package catalog

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	conflicts prometheus.Counter
	ingest    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricestream_catalog_write_conflicts_total",
			Help: "Table writes that lost a race with another writer and were recomputed.",
		}),
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_catalog_ingest_records_total",
			Help: "Records of bound streams checked at ingest, by stream and result (valid, rejected, dead_lettered).",
		}, []string{"stream", "result"}),
	}
	reg.MustRegister(m.conflicts, m.ingest)
	return m
}

type streamCounts struct {
	valid, rejected, deadLettered prometheus.Counter
}

func (m *metrics) streamCounts(stream string) *streamCounts {
	return &streamCounts{
		valid:        m.ingest.WithLabelValues(stream, "valid"),
		rejected:     m.ingest.WithLabelValues(stream, "rejected"),
		deadLettered: m.ingest.WithLabelValues(stream, "dead_lettered"),
	}
}
