package trigger

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	iteratorAge *prometheus.GaugeVec
	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	retries     *prometheus.CounterVec
	bisections  *prometheus.CounterVec
	processed   *prometheus.CounterVec
	filtered    *prometheus.CounterVec
	destination *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	pastEnd     *prometheus.CounterVec
	rereads     *prometheus.CounterVec
	completions *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	delivery    *prometheus.HistogramVec
}

// latencyBuckets cover 25 µs to 30 s.
var latencyBuckets = []float64{.000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(reg prometheus.Registerer) *metrics {
	tr := []string{"trigger"}
	m := &metrics{
		iteratorAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pricestream_trigger_iterator_age_seconds",
			Help: "Time from the arrival of the last record a trigger processed in a partition to when it finished processing it (Lambda's IteratorAge).",
		}, []string{"trigger", "partition"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_invocations_total", Help: "Function invocations, retries included.",
		}, tr),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_errors_total", Help: "Invocations that failed: an error, a timeout, or a partial-batch failure.",
		}, tr),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_retries_total", Help: "Invocations that retried records after a failure.",
		}, tr),
		bisections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_bisections_total", Help: "Failed batches split in two (bisect_batch_on_error).",
		}, tr),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_records_processed_total", Help: "Records a function processed successfully.",
		}, tr),
		filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_records_filtered_total", Help: "Records that matched no filter pattern and were skipped (and checkpointed past).",
		}, tr),
		destination: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_records_destination_total", Help: "Records sent to the on-failure destination, by condition (RetryAttemptsExhausted, RecordAgeExceeded).",
		}, []string{"trigger", "condition"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_records_dropped_total", Help: "Records that failed past the policy with no destination configured (each batch is logged at Warn).",
		}, []string{"trigger", "condition"}),
		pastEnd: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_checkpoints_past_end_total", Help: "Partitions that started from a checkpoint past their source's end, or of an earlier source of the same name, and read what the source stored after the checkpoint instead.",
		}, tr),
		rereads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_rereads_total", Help: "Times a partition read its records again because the function asked for more of the images than they were decoded with (ErrReread).",
		}, tr),
		completions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_trigger_completion_failures_total", Help: "Completions of invocations (a Go function's Response.Complete) that failed: the partition reads its records again from its checkpoint after a backoff.",
		}, tr),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_trigger_invocation_seconds", Help: "Duration of one function invocation.", Buckets: latencyBuckets,
		}, tr),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_trigger_delivery_seconds", Help: "Time from a record's arrival to the first invocation of the function with it.", Buckets: latencyBuckets,
		}, tr),
	}
	reg.MustRegister(m.iteratorAge, m.invocations, m.errors, m.retries, m.bisections, m.processed, m.filtered, m.destination, m.dropped, m.pastEnd, m.rereads, m.completions, m.duration, m.delivery)
	return m
}

// triggerMetrics are the metrics of one trigger, label values bound.
type triggerMetrics struct {
	m           *metrics
	name        string
	invocations prometheus.Counter
	errors      prometheus.Counter
	retries     prometheus.Counter
	bisections  prometheus.Counter
	processed   prometheus.Counter
	filtered    prometheus.Counter
	pastEnd     prometheus.Counter
	rereads     prometheus.Counter
	completions prometheus.Counter
	duration    prometheus.Observer
	delivery    prometheus.Observer
}

func (m *metrics) forTrigger(name string) *triggerMetrics {
	return &triggerMetrics{
		m: m, name: name,
		invocations: m.invocations.WithLabelValues(name),
		errors:      m.errors.WithLabelValues(name),
		retries:     m.retries.WithLabelValues(name),
		bisections:  m.bisections.WithLabelValues(name),
		processed:   m.processed.WithLabelValues(name),
		filtered:    m.filtered.WithLabelValues(name),
		pastEnd:     m.pastEnd.WithLabelValues(name),
		rereads:     m.rereads.WithLabelValues(name),
		completions: m.completions.WithLabelValues(name),
		duration:    m.duration.WithLabelValues(name),
		delivery:    m.delivery.WithLabelValues(name),
	}
}

func (tm *triggerMetrics) iteratorAge(part int) prometheus.Gauge {
	return tm.m.iteratorAge.WithLabelValues(tm.name, strconv.Itoa(part))
}

// forget drops the trigger's series (after it is deleted).
func (m *metrics) forget(name string) {
	for _, v := range []*prometheus.MetricVec{m.iteratorAge.MetricVec, m.destination.MetricVec, m.dropped.MetricVec} {
		v.DeletePartialMatch(prometheus.Labels{"trigger": name})
	}
	for _, v := range []*prometheus.CounterVec{m.invocations, m.errors, m.retries, m.bisections, m.processed, m.filtered, m.pastEnd, m.rereads, m.completions} {
		v.DeleteLabelValues(name)
	}
	m.duration.DeleteLabelValues(name)
	m.delivery.DeleteLabelValues(name)
}
