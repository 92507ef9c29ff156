package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pricestream/pricestream/internal/engine"
)

// Config configures authentication. A zero field means its default.
type Config struct {
	// Enabled turns authentication on: every request but /healthz and
	// /readyz then needs an API key or an AWS signature. Default off;
	// serve refuses to listen on a non-loopback address with it off unless
	// http.insecure is set.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// BootstrapToken is an admin token taken from the configuration (say,
	// PRICESTREAM_AUTH_BOOTSTRAP_TOKEN), to create the first API keys.
	BootstrapToken string `yaml:"bootstrap_token" json:"bootstrap_token"`
	// AWSCredentials are the access keys the AWS-compatible APIs accept,
	// verified with Signature Version 4.
	AWSCredentials []AWSCredential `yaml:"aws_credentials" json:"aws_credentials"`
	// PublicMetrics serves /metrics without credentials.
	PublicMetrics bool `yaml:"public_metrics" json:"public_metrics"`
	// SessionTTL is how long a dashboard login lasts. Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl" json:"session_ttl"`
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.BootstrapToken != "" && len(c.BootstrapToken) < 16 {
		errs = append(errs, fmt.Errorf("%s.bootstrap_token: must be at least 16 characters", prefix))
	}
	if c.SessionTTL < 0 {
		errs = append(errs, fmt.Errorf("%s.session_ttl: must be > 0", prefix))
	}
	if _, err := NewSigV4(c.AWSCredentials); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", prefix, err))
	}
	return errors.Join(errs...)
}

// Authenticator holds what authenticates requests.
type Authenticator struct {
	Keys  *Keys
	SigV4 *SigV4
	// Bootstrap is the SHA-256 of the bootstrap token, or nil.
	Bootstrap     []byte
	PublicMetrics bool
	// Sessions signs the browser sessions of the dashboard's login.
	Sessions *Sessions
}

// New builds the authenticator of cfg, or returns nil when authentication
// is off. It opens the key store on eng; Close releases it.
func New(ctx context.Context, cfg Config, eng *engine.Engine, logger *slog.Logger) (*Authenticator, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	v, err := NewSigV4(cfg.AWSCredentials)
	if err != nil {
		return nil, err
	}
	keys, err := OpenKeys(ctx, eng, logger)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{Keys: keys, SigV4: v, PublicMetrics: cfg.PublicMetrics}
	secret, err := eng.Secret(ctx, "sessions")
	if err != nil {
		keys.Close()
		return nil, err
	}
	if a.Sessions, err = NewSessions(secret, cfg.SessionTTL); err != nil {
		keys.Close()
		return nil, err
	}
	if cfg.BootstrapToken != "" {
		sum := sha256.Sum256([]byte(cfg.BootstrapToken))
		a.Bootstrap = sum[:]
	}
	return a, nil
}

// Close releases the key store. It is safe on a nil Authenticator.
func (a *Authenticator) Close() {
	if a != nil && a.Keys != nil {
		a.Keys.Close()
	}
}
