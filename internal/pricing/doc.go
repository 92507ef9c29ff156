// Package pricing decides and writes price changes: the stand-in for the
// Lambda of the reference architecture that asks a model whether to adjust
// a price and writes the new one to the catalog.
//
// For each new row of the pricing features table, the [Pricer] (a Go
// trigger function on that table's change stream) evaluates candidate
// prices inside the product's guardrails with a demand model (features and
// a candidate price → expected units) and picks the one with the best
// expected revenue, or keeps the price when the gain is below a threshold
// ([Decide]). Only a decision that passes every guardrail ([Guardrails]:
// minimum and maximum price, maximum step, cooldown, maximum changes per
// hour, the global kill switch and per-product freezes) is written, and the
// write is atomic on the product's current version, so concurrent writers
// never lose an update; a features row seen again (the trigger delivers at
// least once) never applies a decision twice. Every decision, applied or
// refused, is recorded on the price-changes stream with its reason, the
// old and new price, the model, the features and the end-to-end latency
// (ingest of the newest event that caused it → price committed).
//
// Times of guardrails (cooldown, changes per hour) are event times, taken
// from the features row, so a simulation running faster than real time is
// priced as the real shop would be.
//
// # Concurrency
//
// A Pricer is safe for concurrent use; decisions about one product are
// serialized by the product's optimistic concurrency. An invocation
// decides its rows in its own goroutine and writes the price changes of
// several products at once in helper goroutines it waits for. [Controls] follows
// the kill switch and freezes in the engine with one goroutine, stopped by
// Close. This package imports table, stream, model and trigger.
package pricing
