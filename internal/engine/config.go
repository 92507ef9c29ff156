package engine

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Config configures the engine. A zero field means its default.
type Config struct {
	// DataDir holds the embedded server's JetStream store (under
	// DataDir/jetstream). Default "./pricestream-data". Ignored when URL is set.
	DataDir string `yaml:"data_dir" json:"data_dir"`
	// URL of an external NATS server or cluster (comma-separated URLs). Empty
	// (the default) runs the server embedded in the process.
	URL string `yaml:"url" json:"url"`
	// Listen makes the embedded server also accept NATS clients on this
	// address (host:port). Default: no listener; clients in the process connect
	// in-process.
	Listen string `yaml:"listen" json:"listen"`
	// Fsync is the embedded server's fsync policy: "always" (the default) or
	// "interval:DURATION".
	Fsync FsyncPolicy `yaml:"fsync" json:"fsync"`
	// MaxPayload is the largest engine message the embedded server accepts.
	// Default 8 MiB.
	MaxPayload int `yaml:"max_payload" json:"max_payload"`
	// Namespace prefixes every engine object pricestream creates. Default "ps".
	Namespace string `yaml:"namespace" json:"namespace"`
}

// Defaults.
const (
	DefaultDataDir    = "./pricestream-data"
	DefaultMaxPayload = 8 << 20
	DefaultNamespace  = "ps"
)

// DefaultConfig returns the configuration of the embedded single-process case.
func DefaultConfig() Config {
	return Config{DataDir: DefaultDataDir, Fsync: FsyncAlways, MaxPayload: DefaultMaxPayload, Namespace: DefaultNamespace}
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	return c
}

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)

// Validate reports every problem of the configuration at once, each prefixed
// with its path under prefix (for example "engine").
func (c Config) Validate(prefix string) error {
	var errs []error
	c = c.withDefaults()
	if c.MaxPayload < 1<<20 || c.MaxPayload > 64<<20 {
		errs = append(errs, fmt.Errorf("%s.max_payload: must be between 1 MiB and 64 MiB, got %d", prefix, c.MaxPayload))
	}
	if !namespaceRE.MatchString(c.Namespace) {
		errs = append(errs, fmt.Errorf("%s.namespace: must be 1-32 letters, digits or '-', got %q", prefix, c.Namespace))
	}
	if c.URL != "" && c.Listen != "" {
		errs = append(errs, fmt.Errorf("%s.listen: only the embedded server listens; unset it or unset %s.url", prefix, prefix))
	}
	if c.Fsync.Interval < 0 {
		errs = append(errs, fmt.Errorf("%s.fsync: interval must be > 0", prefix))
	}
	return errors.Join(errs...)
}

// FsyncPolicy says when the embedded server fsyncs stored messages.
// The zero value is [FsyncAlways].
type FsyncPolicy struct {
	// Interval between fsyncs; 0 means fsync every message before it is
	// acknowledged.
	Interval time.Duration
}

// FsyncAlways fsyncs every message before acknowledging it.
var FsyncAlways = FsyncPolicy{}

// ParseFsync parses "always" or "interval:DURATION" (for example
// "interval:100ms").
func ParseFsync(s string) (FsyncPolicy, error) {
	switch {
	case s == "" || s == "always":
		return FsyncAlways, nil
	case strings.HasPrefix(s, "interval:"):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "interval:"))
		if err != nil {
			return FsyncPolicy{}, fmt.Errorf("engine: fsync %q: %w", s, err)
		}
		if d <= 0 {
			return FsyncPolicy{}, fmt.Errorf("engine: fsync %q: interval must be > 0", s)
		}
		return FsyncPolicy{Interval: d}, nil
	default:
		return FsyncPolicy{}, fmt.Errorf("engine: fsync %q: want \"always\" or \"interval:DURATION\"", s)
	}
}

// String returns the form ParseFsync reads.
func (p FsyncPolicy) String() string {
	if p.Interval == 0 {
		return "always"
	}
	return "interval:" + p.Interval.String()
}

// MarshalText implements encoding.TextMarshaler.
func (p FsyncPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *FsyncPolicy) UnmarshalText(b []byte) error {
	v, err := ParseFsync(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
