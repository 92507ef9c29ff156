// Package engine starts the NATS JetStream engine that holds every byte of
// pricestream's state, or connects to an external NATS server or cluster.
//
// # Embedded and external
//
// With no [Config.URL] the NATS server runs inside the process with JetStream
// on file storage under [Config.DataDir]; clients connect to it in-process
// (no TCP listener unless [Config.Listen] asks for one). With a URL the same
// code talks to an external server or cluster, whose own configuration then
// decides durability and replication.
//
// # Durability
//
// [FsyncAlways] (the default) makes the embedded server fsync every stored
// message before it acknowledges it. [FsyncPolicy.Interval] lets acknowledged
// messages sit in the operating system's cache for up to that long, so a power
// failure can lose that window of acknowledged writes; a process crash loses
// nothing in either mode.
//
// # Publishing
//
// [PublishExpect] is the publish the parts store their writes with: a
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
