package trigger

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the trigger manager of a process. A zero field means
// its default.
type Config struct {
	// Replicas of the trigger buckets (definitions, checkpoints, leases)
	// in a NATS cluster. Default 1.
	Replicas int `yaml:"replicas" json:"replicas"`
	// RetryBaseDelay is the wait before the first retry of a failed
	// invocation; it doubles with each retry up to RetryMaxDelay, with
	// jitter. Default 100ms.
	RetryBaseDelay time.Duration `yaml:"retry_base_delay" json:"retry_base_delay"`
	// RetryMaxDelay caps the wait between retries. Default 10s.
	RetryMaxDelay time.Duration `yaml:"retry_max_delay" json:"retry_max_delay"`
	// ReadAhead is how many record batches (engine messages), or parts
	// of them, each lane of a partition holds in its queue ahead of the
	// function; the reader waits while a lane's queue is full, so a slow
	// function holds memory to this bound (and to the partition's window
	// of records not done). Default 4.
	ReadAhead int `yaml:"read_ahead" json:"read_ahead"`
	// CommitInterval is the least time between two checkpoint writes of a
	// partition; checkpoints of the batches done meanwhile coalesce. After
	// a crash, up to this much of a partition's records are delivered
	// again; a clean stop commits the last one. Default 100ms.
	CommitInterval time.Duration `yaml:"commit_interval" json:"commit_interval"`
	// DrainTimeout is how long a stopping trigger lets its lanes deliver
	// the records they have read (and commits them) before it cancels
	// their invocations, which are then delivered again after the
	// restart. Default 5s.
	DrainTimeout time.Duration `yaml:"drain_timeout" json:"drain_timeout"`
	// LeaseTTL is how long a process owns a trigger partition without
	// renewing its lease; another process takes the partition over after
	// it. Default 10s.
	LeaseTTL time.Duration `yaml:"lease_ttl" json:"lease_ttl"`
}

// Defaults.
const (
	DefaultRetryBaseDelay = 100 * time.Millisecond
	DefaultRetryMaxDelay  = 10 * time.Second
	DefaultReadAhead      = 4
	DefaultLeaseTTL       = 10 * time.Second
	DefaultDrainTimeout   = 5 * time.Second
	DefaultCommitInterval = 100 * time.Millisecond
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if c.ReadAhead == 0 {
		c.ReadAhead = DefaultReadAhead
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%s.replicas: must be 1-5, got %d", prefix, c.Replicas))
	}
	if c.RetryBaseDelay < 0 {
		errs = append(errs, fmt.Errorf("%s.retry_base_delay: must be > 0", prefix))
	}
	if c.RetryMaxDelay < 0 || (c.RetryMaxDelay > 0 && c.RetryMaxDelay < c.RetryBaseDelay) {
		errs = append(errs, fmt.Errorf("%s.retry_max_delay: must be at least retry_base_delay", prefix))
	}
	if c.ReadAhead < 0 || c.ReadAhead > 1024 {
		errs = append(errs, fmt.Errorf("%s.read_ahead: must be 1-1024, got %d", prefix, c.ReadAhead))
	}
	if c.CommitInterval < 0 || c.CommitInterval > time.Minute {
		errs = append(errs, fmt.Errorf("%s.commit_interval: must be 0-1m, got %s", prefix, c.CommitInterval))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s.drain_timeout: must be > 0", prefix))
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < time.Second) {
		errs = append(errs, fmt.Errorf("%s.lease_ttl: must be at least 1s, got %s", prefix, c.LeaseTTL))
	}
	return errors.Join(errs...)
}
