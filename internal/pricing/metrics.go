package pricing

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	decisions       *prometheus.CounterVec
	e2e             prometheus.Histogram
	decisionSeconds prometheus.Histogram
	violations      prometheus.Counter
	errors          prometheus.Counter
	recordedAgain   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_pricing_decisions_total", Help: "Pricing decisions by action (applied, kept, refused) and reason.",
		}, []string{"action", "reason"}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_pricing_end_to_end_seconds", Help: "From the ingest of the newest event a features row reflects to the price change it caused being committed.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 1.5, 30),
		}),
		decisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_pricing_decision_seconds", Help: "Time to decide and commit one price change (model calls and the conditional write).",
			Buckets: prometheus.ExponentialBuckets(0.00002, 2, 18),
		}),
		violations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricestream_pricing_guardrail_violations_total", Help: "Decisions that failed the final guardrail check and were refused (a bug if ever nonzero).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricestream_pricing_errors_total", Help: "Features rows whose pricing failed and is retried by the trigger.",
		}),
		recordedAgain: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricestream_pricing_recorded_again_total", Help: "Applied decisions recorded again after the trigger resumed, because their record may have been lost (a features table that keeps each product's newest row only).",
		}),
	}
	reg.MustRegister(m.decisions, m.e2e, m.decisionSeconds, m.violations, m.errors, m.recordedAgain)
	return m
}
