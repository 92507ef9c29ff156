// Package web is pricestream's dashboard: one page, served at / from assets
// embedded in the binary (hand-written HTML, CSS and JavaScript; no CDN, no
// build step), fed by a stream of snapshots over Server-Sent Events.
//
// # Data
//
// A [Dashboard] follows the price-changes stream (every pricing decision,
// with its reason, prices, features and end-to-end latency) and keeps, in
// memory and bounded: the recent decisions, the latencies of the last
// minute, and per recently active product a short price-and-demand series.
// Every Config.Interval it samples the tip of the events stream (events/s)
// and, less often, the status of every ETL job and trigger (lag).
//
// It does so only while someone watches: an event stream is open, or a
// snapshot was asked for, within Config.Linger. While nobody watches it
// reads nothing and keeps nothing. When the first viewer arrives it reads
// back the tail of each partition (Config.Backfill, at most the newest
// 40,000 decisions in all), and the viewer's first snapshot waits for that
// (a few seconds at most), so the page is full at once. A
// [Snapshot] joins that with the products table (current and previous
// price) and the pricing controls (kill switch, freezes); it is built per
// viewer, because each viewer filters products and picks one to chart.
//
// # Routes
//
// [Dashboard.Mount] adds GET / (the page), GET /ui/static/ (its code and
// styles), GET /ui/events (the snapshot stream), GET /ui/snapshot (one
// snapshot as JSON) and the login routes GET and POST /ui/login and POST
// /ui/logout. The server's authorization table (internal/api) decides who
// may call each: with authentication on, the page and the feed need the
// "dashboard" scope, the login routes and static files are public, and the
// page sends a browser without a session to the login page. The guardrail
// controls on the page call the native pricing API (/v1/pricing/...),
// which needs the "jobs" scope.
//
// # Concurrency
//
// [Dashboard.Run] owns every goroutine the dashboard starts: while someone
// watches, a session of one goroutine per partition of the price-changes
// stream and one sampler; it returns when its context ends and they have
// stopped. Viewers ask Run for a session through Dashboard.wake; the
// session ends when nobody has looked for Config.Linger. The event-stream handlers end
// when [Dashboard.Drain] is called (on server shutdown) or Run returns, and
// when the viewer's key or session no longer holds (checked every few
// seconds). The shared state is guarded by Dashboard.mu, the products
// table handle by Dashboard.tmu, who watches by Dashboard.watch; none is
// held while taking another. This package imports stream, table, etl, trigger,
// pricing and auth, never api.
package web
