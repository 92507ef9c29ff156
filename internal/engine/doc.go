// Package engine starts the NATS JetStream engine that holds every byte of
// pricestream's state, or connects to an external NATS server or cluster.
//
// # Embedded and external
//
// With no [Config.URL] the NATS server runs inside the process with JetStream
// on file storage under [Config.DataDir]. The process's clients reach it
// over TCP on the loopback interface with a token only the process knows
// ([TransportLoopback]: the server's writes to a client do not wait for
// the client to read them), or through in-memory pipes
// ([TransportInProcess]); clients outside the process only through
// [Config.Listen], when set. With a URL the same
// code talks to an external server or cluster, whose own configuration then
// decides durability and replication.
//
// # Durability
//
// [FsyncAlways] (the default) fsyncs every write made through
// [Engine.PublishExpect] (or followed by [Engine.Durable]) before it is
// answered, with group commit: the writes of one stream that wait at the
// same time share one fsync of the stream's files (durable.go); the rare
// writes of definitions call [Engine.SyncAll], one sync of the whole file
// system. The server itself then syncs on a one-second interval, which
// covers what is written otherwise (checkpoints, positions). [FsyncPerMessage] leaves it to the server's own "sync always",
// one fsync per message. [FsyncPolicy.Interval] lets acknowledged messages
// sit in the operating system's cache for up to that long, so a power
// failure can lose that window of acknowledged writes; a process crash
// loses nothing in any mode.
//
// # Publishing
//
// [PublishExpect] (and [Engine.PublishExpect], which adds the fsync) is the
// publish the parts store their writes with: a
// message conditional on its subject's last sequence (the optimistic
// concurrency of table items and stream partitions), its acknowledgement
// parsed without a JSON decode, and "no responders" retried as the client
// does, so that a leader election or a server going away is not taken for
// a deleted stream.
//
// # Storage and security
//
// The embedded server's data directory keeps a reserve of free space
// ([Config.MinFreeBytes]): below it [Engine.CheckStorage] returns
// [ErrStorageFull] and the parts refuse writes, because JetStream cannot
// recover a stream by itself once a write failed on a full disk. An
// external connection is secured by TLS and one way of authenticating
// (credentials file, NKey seed, user and password, token).
//
// # Names
//
// Every engine object (JetStream stream, key-value bucket, subject) that the
// parts create is named from [Engine.Name] and [Engine.Subject], so one NATS
// cluster can hold several pricestream installations under distinct
// namespaces and tests can isolate themselves.
//
// # Concurrency
//
// An [Engine] is safe for concurrent use. The embedded engine runs one
// goroutine of its own, which measures the data directory's free space every
// 100 ms; [Engine.Close] stops it. [Engine.Close] is idempotent and waits
// for the embedded server to stop. This package imports no other
// pricestream package.
package engine
