// Package histogram reads Prometheus histograms back from a /metrics text
// and computes quantiles of what they observed between two reads, as
// Prometheus' histogram_quantile does: linearly within the bucket a
// quantile falls in, so that a quantile is as good as the buckets are
// fine. `pricestream bench` uses it to take a run's latency apart by hop.
//
// It imports nothing of pricestream; a [Histogram] is a plain value, safe
// to share once made.
package histogram
