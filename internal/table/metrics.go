package table

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	writes       *prometheus.CounterVec
	conflicts    *prometheus.CounterVec
	condFailures *prometheus.CounterVec
	writeSeconds *prometheus.HistogramVec
	indexDelay   prometheus.Histogram
	notify       *prometheus.HistogramVec
	// feedFallbacks counts subscriptions dropped by the in-process feed.
	feedFallbacks *prometheus.CounterVec
	txns          *prometheus.CounterVec
	txnSeconds    prometheus.Histogram
	compacted     *prometheus.CounterVec
	rewritten     *prometheus.CounterVec
	// compactRequests counts the compactor's requests that remove
	// messages.
	compactRequests *prometheus.CounterVec
	expired         *prometheus.CounterVec

	snapshotSeconds prometheus.Histogram
	snapshotLoads   *prometheus.CounterVec
}

// latencyBuckets cover 25 µs to 10 s.
var latencyBuckets = []float64{.000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_writes_total", Help: "Item versions stored per table and operation (put, update, delete, transact).",
		}, []string{"table", "op"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_write_conflicts_total", Help: "Writes that lost a race for an item's version and were recomputed (retries).",
		}, []string{"table"}),
		condFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_condition_failures_total", Help: "Writes refused because their condition was false.",
		}, []string{"table"}),
		writeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_table_write_seconds", Help: "Time of a single-item write, with its retries, until the engine stored it.", Buckets: latencyBuckets,
		}, []string{"table"}),
		indexDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_table_index_apply_delay_seconds", Help: "Time from a version's write to its application to this process's index (index lag; large while an index loads).", Buckets: latencyBuckets,
		}),
		notify: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_table_change_notify_seconds", Help: "Time from a change's write to its delivery to a change-stream subscriber.", Buckets: latencyBuckets,
		}, []string{"table"}),
		feedFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_change_feed_fallbacks_total", Help: "Times a change-stream subscriber fell so far behind the table index's in-process feed that it read from the engine until it caught up.",
		}, []string{"table"}),
		txns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_transactions_total", Help: "Write transactions by outcome (committed, canceled, conflict).",
		}, []string{"outcome"}),
		txnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_table_transaction_seconds", Help: "Time of a committed write transaction.", Buckets: latencyBuckets,
		}),
		compacted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_compacted_keys_total", Help: "Item subjects whose history older than the change retention the compactor trimmed.",
		}, []string{"table"}),
		rewritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_rewritten_items_total", Help: "Items of a table of batched writes that the compactor wrote again before removing the old batches that held their current versions.",
		}, []string{"table"}),
		compactRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_compact_requests_total", Help: "Requests the compactor made to the engine to remove messages (a subject's history, a message, or the whole stream below its floor).",
		}, []string{"table"}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_expired_items_total", Help: "Items the table deleted because their TTL attribute's time had passed.",
		}, []string{"table"}),
		snapshotSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pricestream_table_index_snapshot_seconds", Help: "Time to write one table's index snapshot.", Buckets: latencyBuckets,
		}),
		snapshotLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_table_index_snapshot_loads_total", Help: "Index snapshots found when a table was opened, by result (loaded, or ignored and the index rebuilt from the engine).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.writes, m.conflicts, m.condFailures, m.writeSeconds, m.indexDelay, m.notify, m.feedFallbacks, m.txns, m.txnSeconds, m.compacted, m.rewritten, m.compactRequests, m.expired, m.snapshotSeconds, m.snapshotLoads)
	return m
}

var (
	historyMsgsDesc   = prometheus.NewDesc("pricestream_table_history_messages", "Messages a table's engine stream held at the compactor's last pass: its items' current versions, their history and the tombstones of deleted items.", []string{"table"}, nil)
	historyBytesDesc  = prometheus.NewDesc("pricestream_table_history_bytes", "Bytes of a table's engine stream at the compactor's last pass.", []string{"table"}, nil)
	historyOldestDesc = prometheus.NewDesc("pricestream_table_history_oldest_timestamp_seconds", "Write time of the oldest message of a table's engine stream at the compactor's last pass, Unix seconds (time() minus it: how far back the stream reaches).", []string{"table"}, nil)
	itemsDesc         = prometheus.NewDesc("pricestream_table_items", "Items in a table, as this process's index holds them.", []string{"table"}, nil)
	appliedDesc       = prometheus.NewDesc("pricestream_table_index_applied_sequence", "Engine sequence of the last version a table's index applied.", []string{"table"}, nil)
	ownDesc           = prometheus.NewDesc("pricestream_table_index_own_applied_total", "Asynchronous writes of this process a table's index applied from their acknowledgements, ahead of its consumer's delivery.", []string{"table"}, nil)
)

// indexCollector reports the open tables' index state when scraped.
type indexCollector struct{ m *Manager }

func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- itemsDesc
	ch <- appliedDesc
	ch <- ownDesc
	ch <- historyMsgsDesc
	ch <- historyBytesDesc
	ch <- historyOldestDesc
}

func (c *indexCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.m.openTables() {
		items, _ := t.ix.size()
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(items), t.name)
		ch <- prometheus.MustNewConstMetric(appliedDesc, prometheus.GaugeValue, float64(t.ix.applied.Load()), t.name)
		ch <- prometheus.MustNewConstMetric(ownDesc, prometheus.CounterValue, float64(t.ix.ownApplied.Load()), t.name)
		if h := t.stats.Load(); h != nil {
			ch <- prometheus.MustNewConstMetric(historyMsgsDesc, prometheus.GaugeValue, float64(h.msgs), t.name)
			ch <- prometheus.MustNewConstMetric(historyBytesDesc, prometheus.GaugeValue, float64(h.bytes), t.name)
			if !h.first.IsZero() {
				ch <- prometheus.MustNewConstMetric(historyOldestDesc, prometheus.GaugeValue, float64(h.first.UnixNano())/1e9, t.name)
			}
		}
	}
}
