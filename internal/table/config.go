package table

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the table manager. A zero field means its default.
type Config struct {
	// Replicas of each table's engine stream in a NATS cluster. Default 1.
	Replicas int `yaml:"replicas" json:"replicas"`
	// WriteTimeout bounds one write, with its retries after conflicts.
	// Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout" json:"write_timeout"`
	// LockTimeout is how long a transaction's lock may stand before any
	// writer that meets it decides the transaction's fate (an undecided
	// transaction is then rolled back). Default 10s.
	LockTimeout time.Duration `yaml:"lock_timeout" json:"lock_timeout"`
	// CompactInterval is how often the compactor trims change history older
	// than each table's change retention, and deletes the items whose Time
	// to Live has passed. Default 1m.
	CompactInterval time.Duration `yaml:"compact_interval" json:"compact_interval"`
	// SnapshotDir holds the index snapshots: each open table's index,
	// written every SnapshotInterval and at shutdown, so that a restart
	// reads only the changes after it instead of the whole table (the
	// engine stays the truth; a snapshot that cannot be trusted is
	// ignored). Default: DATA_DIR/table-index with an embedded engine,
	// none with an external one; "off" turns snapshots off.
	SnapshotDir string `yaml:"snapshot_dir" json:"snapshot_dir"`
	// SnapshotInterval is how often a changed index is written to its
	// snapshot. Default 5m.
	SnapshotInterval time.Duration `yaml:"snapshot_interval" json:"snapshot_interval"`
}

// Defaults and limits, after DynamoDB's where it has one.
const (
	DefaultWriteTimeout     = 10 * time.Second
	DefaultLockTimeout      = 10 * time.Second
	DefaultCompactInterval  = time.Minute
	DefaultSnapshotInterval = 5 * time.Minute
	DefaultRetention        = 24 * time.Hour
	MinRetention            = time.Minute
	// MaxBatchGet, MaxBatchWrite and MaxTransactItems bound BatchGetItem,
	// BatchWriteItem and TransactWriteItems.
	MaxBatchGet      = 100
	MaxBatchWrite    = 25
	MaxTransactItems = 100
	// MaxPageBytes bounds the items one Query or Scan page reads.
	MaxPageBytes = 1 << 20
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.CompactInterval == 0 {
		c.CompactInterval = DefaultCompactInterval
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%s.replicas: must be 1-5, got %d", prefix, c.Replicas))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s.write_timeout: must be > 0", prefix))
	}
	if c.LockTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s.lock_timeout: must be > 0", prefix))
	}
	if c.CompactInterval < 0 {
		errs = append(errs, fmt.Errorf("%s.compact_interval: must be > 0", prefix))
	}
	if c.SnapshotInterval < 0 {
		errs = append(errs, fmt.Errorf("%s.snapshot_interval: must be > 0", prefix))
	}
	return errors.Join(errs...)
}
