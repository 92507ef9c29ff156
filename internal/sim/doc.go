// Package sim simulates the Fast Sneakers web shop: a catalog, visitors
// whose hidden demand (a willingness to pay per product, trends that raise
// traffic and hype) decides what they buy, and the click events and orders
// the shop sends to pricestream.
//
// A [World] is the shop alone, deterministic for its [Config] and the
// prices it is shown; a [Simulator] drives a World against a pricestream
// server, in lockstep with the pipeline or in real time. The pricing path
// must never import this package (internal/demo tests it): the ground
// truth stays hidden from it. sim uses the client and api packages only.
//
// A World is not safe for concurrent use; a Simulator guards its world
// with a mutex, so that Score may be read while Run runs.
//
// # Sampling
//
// A product's view rate is the shop's views per second × the daily
// traffic curve × its share of the traffic × its trends' boost. The views
// of the whole shop are one Poisson process at the sum of those rates:
// [World.Step] draws them at exponential spacings from one random stream,
// so in time order, and draws each view's product by its share of the sum
// (a superposition of Poisson processes is one, whose events belong to
// each with the share of its rate). The static shares are an alias table
// (constant time per view); the few products a trend changes now are a
// list with their weight share × boost, recomputed each step, and a
// product drawn from the table while on that list gets no view from it.
// A trend joins the list at its onset and leaves it when its boost is
// within a millionth of 1. A step therefore costs in proportion to its
// events and the trending products, not the catalog; sold-out products
// and the events a visit sends later (the cart 2 s, the purchase 5 s, the
// removal 20 s after the view) wait in queues by time.
//
// Each visit draws everything it needs up front from its product's own
// random stream, and is played twice on those draws: at the prices the
// pipeline sets and at base prices (the static twin). The twins see the
// same visitors, so their revenues differ by the pricing alone.
package sim
