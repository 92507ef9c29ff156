package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, as PEM files in dir.
type pki struct{ ca, srvCert, srvKey, cliCert, cliKey string }

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) (string, string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		require.NoError(t, err)
		kder, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return write(cn+".pem", "CERTIFICATE", der), write(cn+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p := pki{ca: write("ca.pem", "CERTIFICATE", caDER)}
	p.srvCert, p.srvKey = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.cliCert, p.cliKey = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	return p
}

// runNATS starts a real NATS server with JetStream on a loopback port,
// configured by mutate, and returns its client URL.
func runNATS(t *testing.T, mutate func(*server.Options)) string {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	mutate(opts)
	s, err := server.NewServer(opts)
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// startExternal connects an engine with cfg and checks that it stores and
// reads a message.
func startExternal(t *testing.T, cfg engine.Config) {
	t.Helper()
	ctx := context.Background()
	e, err := engine.Start(ctx, cfg, engine.Deps{})
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.Ready(ctx))
	st, err := e.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "authcheck", Subjects: []string{"authcheck"}})
	require.NoError(t, err)
	_, err = e.JetStream().Publish(ctx, "authcheck", []byte("x"))
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs)
}

func externalConfig(url string) engine.Config {
	cfg := engine.DefaultConfig()
	cfg.URL = url
	return cfg
}

// TestEngineExternalTLSAndPassword connects to a server that requires TLS
// with a verified client certificate and a user and password.
func TestEngineExternalTLSAndPassword(t *testing.T) {
	p := newPKI(t)
	url := runNATS(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.srvCert, KeyFile: p.srvKey, CaFile: p.ca, Verify: true})
		require.NoError(t, err)
		o.TLSConfig, o.TLS, o.TLSVerify, o.TLSTimeout = tc, true, true, 5
		o.Users = []*server.User{{Username: "ps", Password: "s3cret-pw"}}
	})
	cfg := externalConfig(url)
	cfg.TLSCAFile, cfg.TLSCertFile, cfg.TLSKeyFile = p.ca, p.cliCert, p.cliKey
	cfg.User, cfg.Password = "ps", "s3cret-pw"
	require.NoError(t, cfg.Validate("engine"))
	startExternal(t, cfg)

	// Each part is needed: no client certificate, the wrong password, no
	// CA (the server's certificate is not trusted).
	for name, mutate := range map[string]func(*engine.Config){
		"no client cert": func(c *engine.Config) { c.TLSCertFile, c.TLSKeyFile = "", "" },
		"wrong password": func(c *engine.Config) { c.Password = "nope" },
		"no ca":          func(c *engine.Config) { c.TLSCAFile = "" },
	} {
		bad := cfg
		mutate(&bad)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		e, err := engine.Start(ctx, bad, engine.Deps{})
		cancel()
		if err == nil {
			e.Close()
		}
		require.Error(t, err, name)
	}
}

// TestEngineExternalNKey connects with an NKey seed file to a server that
// lists the NKey user.
func TestEngineExternalNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := kp.PublicKey()
	require.NoError(t, err)
	seed, err := kp.Seed()
	require.NoError(t, err)
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	require.NoError(t, os.WriteFile(seedFile, seed, 0o600))
	url := runNATS(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })

	cfg := externalConfig(url)
	cfg.NKeySeedFile = seedFile
	require.NoError(t, cfg.Validate("engine"))
	startExternal(t, cfg)

	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	otherSeed, err := other.Seed()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(seedFile, otherSeed, 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = engine.Start(ctx, cfg, engine.Deps{})
	require.Error(t, err, "an NKey the server does not list")
}

// TestEngineExternalCredentials connects with a credentials file (user JWT
// and seed) to a server in operator mode whose account has JetStream.
func TestEngineExternalCredentials(t *testing.T) {
	okp, err := nkeys.CreateOperator()
	require.NoError(t, err)
	opub, err := okp.PublicKey()
	require.NoError(t, err)
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
	require.NoError(t, err)
	oclaims, err := jwt.DecodeOperatorClaims(ojwt)
	require.NoError(t, err)

	newAccount := func(js bool) (nkeys.KeyPair, string, string) {
		akp, err := nkeys.CreateAccount()
		require.NoError(t, err)
		apub, err := akp.PublicKey()
		require.NoError(t, err)
		ac := jwt.NewAccountClaims(apub)
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		ajwt, err := ac.Encode(okp)
		require.NoError(t, err)
		return akp, apub, ajwt
	}
	akp, apub, ajwt := newAccount(true)
	_, spub, sjwt := newAccount(false)
	ukp, err := nkeys.CreateUser()
	require.NoError(t, err)
	upub, err := ukp.PublicKey()
	require.NoError(t, err)
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	require.NoError(t, err)
	useed, err := ukp.Seed()
	require.NoError(t, err)
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	require.NoError(t, err)
	credsFile := filepath.Join(t.TempDir(), "ps.creds")
	require.NoError(t, os.WriteFile(credsFile, creds, 0o600))

	url := runNATS(t, func(o *server.Options) {
		r := &server.MemAccResolver{}
		require.NoError(t, r.Store(apub, ajwt))
		require.NoError(t, r.Store(spub, sjwt))
		o.TrustedOperators = []*jwt.OperatorClaims{oclaims}
		o.AccountResolver = r
		o.SystemAccount = spub
		o.NoSigs = true
	})
	cfg := externalConfig(url)
	cfg.CredentialsFile = credsFile
	require.NoError(t, cfg.Validate("engine"))
	startExternal(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = engine.Start(ctx, externalConfig(url), engine.Deps{})
	require.Error(t, err, "no credentials")
}

func TestEngineExternalAuthValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	cfg := engine.DefaultConfig()
	cfg.TLSCertFile = missing
	cfg.NKeySeedFile = missing
	cfg.User = "u"
	err := cfg.Validate("engine")
	for _, want := range []string{
		"engine.tls_cert_file: stat " + missing,
		"engine.nkey_seed_file: stat ",
		"only apply to an external server; set engine.url",
		"engine.tls_cert_file, engine.tls_key_file: set both or neither",
		"engine.user, engine.password: set both or neither",
		"set one of credentials_file, nkey_seed_file, user/password and token, not 2",
	} {
		require.ErrorContains(t, err, want)
	}
}
