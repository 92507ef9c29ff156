package engine

import "github.com/nats-io/nats.go/jetstream"

// UnlimitedPerSubject is the per-subject message limit [MediumBlocks] sets:
// a limit no subject reaches (2^62 messages), so it limits nothing.
const UnlimitedPerSubject = 1 << 62

// MediumBlocks makes the engine store cfg's stream in 4 MB blocks instead
// of the 8 MB it gives a stream limited by age alone, and returns cfg.
//
// The NATS server keeps the block a stream is writing in memory, in a
// buffer as large as the block grows, and each block it wrote or read in
// the last ten seconds; it chooses the block size itself, from the
// stream's limits, and its client API has no setting for it. A stream
// with a per-subject message limit gets the key-value buckets' 4 MB
// blocks, so a limit that nothing reaches halves what each written stream
// holds in memory (about 100 MB less resident in the Fast Sneakers bench;
// docs/performance.md). A stream that already has a per-subject limit (a
// table that keeps each item's newest version only) is left as it is.
//
// The server applies the size to the blocks it starts after the stream is
// created: a stream created before keeps its 8 MB blocks.
// TestEngineMediumBlocks holds the server to this.
func MediumBlocks(cfg jetstream.StreamConfig) jetstream.StreamConfig {
	if cfg.MaxMsgsPerSubject == 0 {
		cfg.MaxMsgsPerSubject = UnlimitedPerSubject
	}
	return cfg
}
