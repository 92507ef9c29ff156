package engine

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// authOptions returns the client options that secure the connection to an
// external server: TLS (CA, client certificate) and one way of
// authenticating (credentials file, NKey seed, user and password, token).
func (c Config) authOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if c.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLSCAFile))
	}
	if c.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLSCertFile, c.TLSKeyFile))
	}
	if c.TLSCAFile != "" || c.TLSCertFile != "" {
		// Also for nats:// URLs: the server's TLS is required, not
		// negotiated down.
		opts = append(opts, nats.Secure())
	}
	switch {
	case c.CredentialsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredentialsFile))
	case c.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("engine: nkey_seed_file: %w", err)
		}
		opts = append(opts, o)
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	return opts, nil
}

// usesTLS reports whether the connection to an external server uses TLS.
func (c Config) usesTLS() bool {
	return c.TLSCAFile != "" || c.TLSCertFile != "" || strings.Contains(c.URL, "tls://")
}

// authMethod names how the connection authenticates, for the log.
func (c Config) authMethod() string {
	switch {
	case c.CredentialsFile != "":
		return "credentials_file"
	case c.NKeySeedFile != "":
		return "nkey"
	case c.User != "" || strings.Contains(c.URL, "@"):
		return "user_password"
	case c.Token != "":
		return "token"
	}
	return "none"
}
