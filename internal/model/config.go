package model

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the registry and the endpoints. A zero field means its
// default.
type Config struct {
	// Replicas of the registry's and the endpoints' buckets in a NATS
	// cluster. Default 1.
	Replicas int `yaml:"replicas" json:"replicas"`
	// AsyncQueue bounds the requests waiting for their shadow variant or
	// their data capture; beyond it those copies are dropped (and counted),
	// never the requests themselves. Default 4096.
	AsyncQueue int `yaml:"async_queue" json:"async_queue"`
	// LoadTimeout bounds loading a model version's artifact when an
	// endpoint changes. Default 30s.
	LoadTimeout time.Duration `yaml:"load_timeout" json:"load_timeout"`
}

// Defaults.
const (
	DefaultAsyncQueue  = 4096
	DefaultLoadTimeout = 30 * time.Second
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.AsyncQueue == 0 {
		c.AsyncQueue = DefaultAsyncQueue
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = DefaultLoadTimeout
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%s.replicas: must be 1-5, got %d", prefix, c.Replicas))
	}
	if c.AsyncQueue < 0 {
		errs = append(errs, fmt.Errorf("%s.async_queue: must be > 0, got %d", prefix, c.AsyncQueue))
	}
	if c.LoadTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s.load_timeout: must be > 0", prefix))
	}
	return errors.Join(errs...)
}
