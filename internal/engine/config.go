package engine

import (
	"errors"
	"fmt"
	"os"
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
	// address (host:port). Default: no listener for clients outside the
	// process.
	Listen string `yaml:"listen" json:"listen"`
	// Transport is how the process's own clients reach the embedded
	// server: "loopback" (the default), TCP on 127.0.0.1 at a port the
	// kernel picks, authenticated by a random token only the process
	// knows (or the Listen address, when set), or "in-process", Go's
	// synchronous in-memory pipes (net.Pipe), where each write waits for
	// the other side to read it. Ignored when URL is set.
	Transport string `yaml:"transport" json:"transport"`
	// Fsync is the embedded server's fsync policy: "always" (the default) or
	// "interval:DURATION".
	Fsync FsyncPolicy `yaml:"fsync" json:"fsync"`
	// MaxPayload is the largest engine message the embedded server accepts.
	// Default 8 MiB.
	MaxPayload int `yaml:"max_payload" json:"max_payload"`
	// Namespace prefixes every engine object pricestream creates. Default "ps".
	Namespace string `yaml:"namespace" json:"namespace"`
	// MinFreeBytes is the free space the embedded engine's data directory
	// must keep: below it, writes are refused (HTTP 507) until space
	// returns, because JetStream cannot recover a stream by itself once a
	// write failed for a full disk. Default 256 MiB; negative: no check.
	MinFreeBytes int64 `yaml:"min_free_bytes" json:"min_free_bytes"`

	// The settings below secure the connection to an external server (URL);
	// the embedded server needs none of them.

	// TLSCAFile is a PEM file of the certificate authorities that sign the
	// server's certificate; setting it (or a client certificate, or a
	// tls:// URL) makes the connection use TLS. Default: the system's.
	TLSCAFile string `yaml:"tls_ca_file" json:"tls_ca_file"`
	// TLSCertFile and TLSKeyFile are the client certificate and its key
	// (PEM) for servers that verify clients (verify: true, or
	// verify_and_map).
	TLSCertFile string `yaml:"tls_cert_file" json:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file" json:"tls_key_file"`
	// CredentialsFile is a NATS credentials file (a user JWT and its NKey
	// seed, as `nsc` writes it) for servers in operator (decentralized JWT)
	// mode.
	CredentialsFile string `yaml:"credentials_file" json:"credentials_file"`
	// NKeySeedFile is a file holding a user NKey seed (SU...), for servers
	// that list NKey users.
	NKeySeedFile string `yaml:"nkey_seed_file" json:"nkey_seed_file"`
	// User and Password authenticate to servers with user/password
	// authorization (also possible in the URL: nats://user:pass@host).
	User     string `yaml:"user" json:"user"`
	Password string `yaml:"password" json:"password"`
	// Token authenticates to servers with token authorization.
	Token string `yaml:"token" json:"token"`
}

// Defaults.
const (
	DefaultDataDir    = "./pricestream-data"
	DefaultMaxPayload = 8 << 20
	DefaultNamespace  = "ps"
	// DefaultMinFreeBytes is the default of MinFreeBytes.
	DefaultMinFreeBytes = 256 << 20
)

// The transports of Config.Transport.
const (
	TransportLoopback  = "loopback"
	TransportInProcess = "in-process"
)

// DefaultConfig returns the configuration of the embedded single-process case.
func DefaultConfig() Config {
	return Config{DataDir: DefaultDataDir, Fsync: FsyncAlways, MaxPayload: DefaultMaxPayload, Namespace: DefaultNamespace, MinFreeBytes: DefaultMinFreeBytes, Transport: TransportLoopback}
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
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = DefaultMinFreeBytes
	}
	if c.Transport == "" {
		c.Transport = TransportLoopback
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
	if c.Transport != TransportLoopback && c.Transport != TransportInProcess {
		errs = append(errs, fmt.Errorf("%s.transport: want %s or %s, got %q", prefix, TransportLoopback, TransportInProcess, c.Transport))
	}
	if c.Fsync.Interval < 0 {
		errs = append(errs, fmt.Errorf("%s.fsync: interval must be > 0", prefix))
	}
	errs = append(errs, c.validateAuth(prefix)...)
	return errors.Join(errs...)
}

// FsyncPolicy says when the embedded server's stored messages are fsynced.
// The zero value is [FsyncAlways].
type FsyncPolicy struct {
	// Interval between fsyncs; 0 means fsync every message before it is
	// acknowledged.
	Interval time.Duration
	// PerMessage, with Interval 0, leaves the fsync before each
	// acknowledgement to the NATS server itself, which fsyncs every
	// message on its own, without group commit ([FsyncPerMessage]).
	PerMessage bool
}

// FsyncAlways fsyncs every message before acknowledging it, with the
// writes of one stream that wait at the same time sharing one fsync (group
// commit; see [Engine.Durable]).
var FsyncAlways = FsyncPolicy{}

// FsyncPerMessage fsyncs every message before acknowledging it, by the NATS
// server's own "sync always": one fsync per message, one after another.
// Slower than [FsyncAlways] by the number of writers waiting at once; it
// also covers clients that publish to the embedded server directly.
var FsyncPerMessage = FsyncPolicy{PerMessage: true}

// ParseFsync parses "always", "per-message" or "interval:DURATION" (for
// example "interval:100ms").
func ParseFsync(s string) (FsyncPolicy, error) {
	switch {
	case s == "" || s == "always":
		return FsyncAlways, nil
	case s == "per-message":
		return FsyncPerMessage, nil
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
		return FsyncPolicy{}, fmt.Errorf("engine: fsync %q: want \"always\", \"per-message\" or \"interval:DURATION\"", s)
	}
}

// String returns the form ParseFsync reads.
func (p FsyncPolicy) String() string {
	if p.Interval == 0 {
		if p.PerMessage {
			return "per-message"
		}
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

// validateAuth checks the settings of an external connection: the files
// exist, pairs are complete, and at most one way of authenticating is set.
func (c Config) validateAuth(prefix string) []error {
	var errs []error
	files := []struct{ key, path string }{
		{"tls_ca_file", c.TLSCAFile}, {"tls_cert_file", c.TLSCertFile}, {"tls_key_file", c.TLSKeyFile},
		{"credentials_file", c.CredentialsFile}, {"nkey_seed_file", c.NKeySeedFile},
	}
	var set []string
	for _, f := range files {
		if f.path == "" {
			continue
		}
		set = append(set, f.key)
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %v", prefix, f.key, err))
		}
	}
	if c.User != "" || c.Password != "" || c.Token != "" {
		set = append(set, "user/password/token")
	}
	if c.URL == "" && len(set) > 0 {
		errs = append(errs, fmt.Errorf("%s: %s only apply to an external server; set %s.url or unset them", prefix, strings.Join(set, ", "), prefix))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("%s.tls_cert_file, %s.tls_key_file: set both or neither", prefix, prefix))
	}
	if (c.User == "") != (c.Password == "") {
		errs = append(errs, fmt.Errorf("%s.user, %s.password: set both or neither", prefix, prefix))
	}
	ways := 0
	for _, on := range []bool{c.CredentialsFile != "", c.NKeySeedFile != "", c.User != "", c.Token != ""} {
		if on {
			ways++
		}
	}
	if ways > 1 {
		errs = append(errs, fmt.Errorf("%s: set one of credentials_file, nkey_seed_file, user/password and token, not %d", prefix, ways))
	}
	return errs
}
