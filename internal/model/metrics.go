package model

import (
	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets cover 1 µs to 1 s: an in-process prediction takes
// microseconds, a remote one milliseconds.
var latencyBuckets = []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1}

type metrics struct {
	invocations  *prometheus.CounterVec
	rows         *prometheus.CounterVec
	errors       *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	shadow       *prometheus.CounterVec
	disagreement *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	captured     *prometheus.CounterVec
	captureErrs  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	ev := []string{"endpoint", "variant"}
	m := &metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_invocations_total", Help: "Prediction requests answered, per endpoint and production variant.",
		}, ev),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_rows_total", Help: "Rows predicted, per endpoint and production variant.",
		}, ev),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_invocation_errors_total", Help: "Prediction requests refused, per endpoint and variant (empty when none was chosen).",
		}, ev),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_model_latency_seconds", Help: "Time the model took to answer one request, per endpoint and production variant.", Buckets: latencyBuckets,
		}, ev),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_shadow_invocations_total", Help: "Requests copied to a shadow variant and answered by it.",
		}, ev),
		disagreement: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_shadow_disagreements_total", Help: "Shadow requests with at least one prediction differing from production's by more than the shadow's tolerance.",
		}, ev),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_async_dropped_total", Help: "Shadow copies and captures dropped because the async queue was full.",
		}, []string{"endpoint"}),
		captured: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_capture_records_total", Help: "Requests written to an endpoint's data capture stream.",
		}, []string{"endpoint"}),
		captureErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_model_capture_errors_total", Help: "Captured requests the data capture stream did not store.",
		}, []string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.invocations, m.rows, m.errors, m.latency, m.shadow, m.disagreement, m.dropped, m.captured, m.captureErrs)
	}
	return m
}

// variantMetrics are one variant's metric children, resolved once when
// its routing table is built so that a prediction only adds to atomics.
type variantMetrics struct {
	invocations  prometheus.Counter
	rows         prometheus.Counter
	errors       prometheus.Counter
	latency      prometheus.Observer
	shadow       prometheus.Counter
	disagreement prometheus.Counter
}

func (m *metrics) variant(endpoint, variant string) variantMetrics {
	return variantMetrics{
		invocations:  m.invocations.WithLabelValues(endpoint, variant),
		rows:         m.rows.WithLabelValues(endpoint, variant),
		errors:       m.errors.WithLabelValues(endpoint, variant),
		latency:      m.latency.WithLabelValues(endpoint, variant),
		shadow:       m.shadow.WithLabelValues(endpoint, variant),
		disagreement: m.disagreement.WithLabelValues(endpoint, variant),
	}
}

// forget drops the series of a deleted endpoint.
func (m *metrics) forget(endpoint string) {
	l := prometheus.Labels{"endpoint": endpoint}
	for _, v := range []*prometheus.CounterVec{m.invocations, m.rows, m.errors, m.shadow, m.disagreement, m.dropped, m.captured, m.captureErrs} {
		v.DeletePartialMatch(l)
	}
	m.latency.DeletePartialMatch(l)
}
