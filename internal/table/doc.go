// Package table holds pricestream's tables, the stand-in for DynamoDB and
// DynamoDB Streams: key-value and document items with atomic conditional
// writes, queries by key, transactions, and a change stream that delivers
// every modification in order.
//
// # Storage
//
// Each table is one JetStream stream with one subject per item key (the
// subject token is the base64url text of the item's order-preserving key
// bytes, or a hash of a long key). Each message is one item version: a
// small header (put, delete, transaction lock, restore; write time; the
// key) and the binary item, plus the old image when the table's view type
// keeps old images. The stream is both the durable truth and the change
// stream: [Table.Subscribe], [Table.ReadChanges] and [Table.Follow] read it
// from any position (a subscription decodes only the image attributes its
// reader names with [ImageAttrs]). Table definitions live in a key-value bucket, as
// stream definitions do.
//
// A table of batched writes ([WritesBatched]) stores many item versions in
// one engine message, on one subject (message_batch.go): its batcher
// (batch.go) keeps one batch in flight and puts the writes that come
// meanwhile in the next (group commit), built against the index once it
// holds the batch before and published expecting the subject's last
// message to be that one. Its changes are numbered by position, and its
// compactor removes whole batches from the front of the stream after
// writing again the current versions they hold (compact_batch.go). It
// takes unconditional puts and deletes only. After a conflict (another
// process's batch stored first) the batcher asks the engine for the
// stream's last sequence on a goroutine the manager waits for.
//
// A single-item write ([Table.Put], [Table.Update], [Table.Delete]) reads
// the item's current version, evaluates its condition and computes the new
// item, and publishes it with the engine's expected-last-subject-sequence
// set to the version it read. If another writer got there first, it reads
// the item again from the engine and recomputes, so conditions are always
// evaluated against the version a write replaces, ADD and SET never lose
// an update, and of two conditional writers racing on one version exactly
// one wins. A write that changes nothing stores nothing: equal items have
// equal binary forms, so an unconditional put compares bytes and does not
// decode the item it replaces ([WriteResult.Old] does, when asked).
//
// [Manager.TransactWrite] writes several items all or nothing with lock
// markers and a decision record (see txn.go for the protocol and its
// recovery).
//
// # Index
//
// Reads come from an in-memory index per table (a B-tree of key bytes to
// the last version, for range reads, and a map of the same entries, for
// point reads), kept current by an ordered consumer of the table's
// stream and, for this process's asynchronous writes that are the
// stream's next message, by their acknowledgements (index.applyOwn). A
// read waits (on a channel, not a sleep) until the index has applied
// every write this process made; a consistent read also waits for
// every write stored before it (GetItem reads the item's last version from
// the engine directly). When a table is first opened in a process, its
// index is loaded from the local index snapshot (snapshot.go: written
// every Config.SnapshotInterval and at Close; used only when it can be
// trusted against the stream) and caught up from the engine, or else
// rebuilt from the whole stream.
//
// # Change subscriptions
//
// The index's applier also feeds the table's live subscriptions (feed.go):
// each change it applies goes, as the engine message, into the bounded
// buffer of every [Subscription] that has read the changes before it,
// without waiting, so the engine delivers a write once per process however
// many subscriptions read it. A subscription that starts behind the index,
// or whose buffer is full when a change comes (its reader is slow), reads
// from an ordered consumer of its own until it has caught up, then is fed
// again; it delivers exactly what that consumer would.
//
// # History
//
// Items are permanent, unless the table has a Time to Live. Change
// history is kept for the table's change retention (default 24h): a
// compactor goroutine deletes the expired items, trims older versions
// except each item's current one, and removes deletion tombstones (with
// the versions before them) once they are older than the retention:
// everything below the stream's floor (the first message the index still
// needs) in one request, then what lies above key by key
// (compact_floor.go). The index keeps the compactor's work list, with
// what it knows of each key, so that a pass asks the engine only about
// keys with something to trim (compact.go).
//
// # Concurrency
//
// [Manager], [Table], [Subscription] and [Reader] are safe for concurrent
// use. The manager owns one goroutine per open table (the index applier),
// the compactor (whose trimming pass runs up to 32 engine requests at once
// in goroutines it waits for), the snapshot writer and, once
// [Table.PutEncodedAsync] or an expiry pass first writes asynchronously,
// an [engine.AsyncPublisher] (whose goroutines run the asynchronous
// writes' done functions, as the index applier does for a write that
// waited for it); [Manager.Close] stops them and
// waits, and the subscriptions then end with ErrClosed (ErrNotFound when
// their table was deleted). Each subscription owns one goroutine, which
// [Subscription.Stop] ends and waits for. Lock order: Manager.mu, then
// index.amu (held while a message is applied, by the applier or from an
// acknowledgement, and so while the asynchronous writes that waited for
// it start, whose done functions may run then), then index.mu, then
// index.nmu; the decision cache's mutex, the feed's mutex, the
// asynchronous publisher's and a subscription's own are never held with
// another, nor while a done function runs; a batcher's mutex is never
// held with another either (a batch is built under index.mu alone, from
// the applier's goroutine with index.amu held, when the batch before it
// was applied there).
//
// This package imports engine, table/item and table/expr; nothing in it
// knows HTTP. Errors wrap the sentinels in errors.go; the item and expr
// packages' *ValidationError values pass through unchanged.
package table
