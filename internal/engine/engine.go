package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is returned by an [Engine] after [Engine.Close]. Test with errors.Is.
var ErrClosed = errors.New("engine: closed")

// Deps are the engine's dependencies.
type Deps struct {
	// Logger receives the engine's and the embedded server's log. Nil
	// discards it.
	Logger *slog.Logger
	// Registerer receives the engine's metrics (the group syncs of
	// fsync-always writes). Nil: not registered.
	Registerer prometheus.Registerer
}

// Engine is a running embedded NATS server with JetStream, or a connection
// to an external one.
type Engine struct {
	cfg     Config
	logger  *slog.Logger
	srv     *server.Server // nil when external
	token   string         // the loopback listener's token; "" without one
	lock    *os.File       // data dir lock of the embedded server
	nc      *nats.Conn
	js      jetstream.JetStream
	disk    *diskGuard  // nil when external
	dur     *durability // nil unless embedded with FsyncAlways
	metrics *metrics

	mu struct {
		sync.Mutex
		closed bool
		conns  []*nats.Conn
	}
}

// Start starts the embedded server (or connects to cfg.URL) and returns when
// JetStream is ready. Beyond those of the NATS server and client, it starts
// goroutines of its own for the embedded server: one measures the free
// space of the data directory, and with [FsyncAlways] one collects the
// completions of asynchronous fsyncs; Close stops them. The caller must call [Engine.Close].
func Start(ctx context.Context, cfg Config, deps Deps) (*Engine, error) {
	if err := cfg.Validate("engine"); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, logger: logger.With("component", "engine"), metrics: newMetrics(deps.Registerer)}
	if cfg.URL == "" {
		if err := e.startEmbedded(); err != nil {
			return nil, err
		}
	}
	nc, err := e.Connect("pricestream")
	if err != nil {
		e.Close()
		return nil, err
	}
	e.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("engine: jetstream: %w", err)
	}
	e.js = js
	if err := e.waitReady(ctx); err != nil {
		e.Close()
		return nil, err
	}
	if cfg.URL == "" {
		e.logger.Info("engine started", "mode", "embedded", "data_dir", cfg.DataDir, "fsync", cfg.Fsync.String(), "listen", e.ClientURL())
	} else {
		e.logger.Info("engine connected", "mode", "external", "url", redactURL(cfg.URL), "tls", cfg.usesTLS(), "auth", cfg.authMethod(), "note", "durability and replication follow the external server's configuration")
	}
	return e, nil
}

func (e *Engine) startEmbedded() error {
	cfg := e.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("engine: data dir: %w", err)
	}
	lock, err := lockDir(cfg.DataDir)
	if err != nil {
		return err
	}
	e.lock = lock
	opts := &server.Options{
		ServerName:         "pricestream",
		JetStream:          true,
		StoreDir:           filepath.Join(cfg.DataDir, "jetstream"),
		DontListen:         cfg.Listen == "", // but see the loopback transport below
		MaxPayload:         int32(cfg.MaxPayload),
		MaxPending:         int64(4 * cfg.MaxPayload),
		NoSigs:             true,
		NoSystemAccount:    true,
		SyncAlways:         cfg.Fsync.Interval == 0 && cfg.Fsync.PerMessage,
		SyncInterval:       cfg.Fsync.Interval,
		JetStreamMaxMemory: -1,
		JetStreamMaxStore:  -1,
	}
	switch {
	case opts.SyncAlways:
		// SyncInterval still drives the periodic flush of index state.
		opts.SyncInterval = 2 * time.Minute
	case cfg.Fsync.Interval == 0:
		// Writes are fsynced before their acknowledgement by Durable;
		// the server's own interval covers the rest (its index state,
		// and the writes of clients that publish to it directly).
		opts.SyncInterval = groupBackgroundSync
	}
	if cfg.Listen == "" && cfg.Transport == TransportLoopback {
		// The process's own clients only: on the loopback interface, and
		// with a token no other process knows.
		tok, err := randomToken()
		if err != nil {
			e.unlock()
			return err
		}
		e.token = tok
		opts.DontListen = false
		opts.Host, opts.Port, opts.Authorization = "127.0.0.1", server.RANDOM_PORT, tok
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			e.unlock()
			return fmt.Errorf("engine: listen %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			e.unlock()
			return fmt.Errorf("engine: listen %q: bad port", cfg.Listen)
		}
		opts.Host, opts.Port = host, p
		if p == 0 {
			opts.Port = server.RANDOM_PORT
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		e.unlock()
		return fmt.Errorf("engine: new server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{e.logger}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		e.unlock()
		return errors.New("engine: embedded server not ready after 30s")
	}
	e.srv = srv
	if !opts.SyncAlways && cfg.Fsync.Interval == 0 {
		// The file store's layout: STORE/jetstream/ACCOUNT/streams/NAME.
		e.dur = newDurability(filepath.Join(opts.StoreDir, server.JetStreamStoreDir, srv.GlobalAccount().GetName(), "streams"), cfg.DataDir)
		e.dur.m = e.metrics
		if err := e.dur.startAsync(); err != nil {
			e.logger.Info("asynchronous fsync unavailable; group syncs use the fsync system call", "err", err)
		}
	}
	if cfg.MinFreeBytes > 0 {
		e.disk = newDiskGuard(cfg.DataDir, uint64(cfg.MinFreeBytes), func(full bool, free uint64) {
			if full {
				e.logger.Error("data directory nearly full: writes are refused until space is freed", "data_dir", cfg.DataDir, "free_bytes", free, "min_free_bytes", cfg.MinFreeBytes)
			} else {
				e.logger.Info("data directory has space again: writes accepted", "data_dir", cfg.DataDir, "free_bytes", free)
			}
		})
	}
	return nil
}

func (e *Engine) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := e.Ready(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("engine: jetstream not ready: %w", err)
		case <-t.C:
		}
	}
}

// Ready reports whether every connection to the engine is up and
// JetStream answers. It returns nil when the engine can store and serve
// messages.
func (e *Engine) Ready(ctx context.Context) error {
	if e.isClosed() {
		return ErrClosed
	}
	// Every connection: the parts that read through their own (streams,
	// tables) cannot serve until theirs is back after a reconnect.
	e.mu.Lock()
	conns := e.mu.conns
	e.mu.Unlock()
	for _, nc := range conns {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("engine: connection %q %s", nc.Opts.Name, s)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := e.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("engine: jetstream: %w", err)
	}
	return nil
}

// Connect opens an additional client connection to the engine, named name.
// Parts that consume at high rates use their own connection so that they do
// not queue behind publishes. [Engine.Close] closes it.
func (e *Engine) Connect(name string) (*nats.Conn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closed {
		return nil, ErrClosed
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1), // publishes fail fast while disconnected rather than queueing
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				e.logger.Warn("engine connection lost", "conn", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { e.logger.Info("engine connection restored", "conn", name) }),
		// Asynchronous client errors (a subscription falling behind: "slow
		// consumer, messages dropped") go to the log with the subscription
		// they concern, not to stderr as the client's default prints them.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			args := []any{"conn", name, "err", err}
			if sub != nil {
				msgs, bytes, _ := sub.Pending()
				args = append(args, "subject", sub.Subject, "pending_msgs", msgs, "pending_bytes", bytes)
			}
			e.logger.Warn("engine client error", args...)
		}),
	}
	var (
		nc  *nats.Conn
		err error
	)
	switch {
	case e.srv != nil && e.cfg.Transport == TransportInProcess:
		nc, err = nats.Connect("", append(opts, nats.InProcessServer(e.srv))...)
	case e.srv != nil:
		// TCP on the loopback interface (or the listener): the server's
		// writes to a client do not wait for the client to read them, as
		// they do through an in-process pipe, where a stream's loop
		// delivering to a consumer stalls until the consumer's connection
		// reads. The bench's p50 was lower in each of five alternating
		// runs, its p99 in four (docs/performance.md).
		if e.token != "" {
			opts = append(opts, nats.Token(e.token))
		}
		nc, err = nats.Connect(e.srv.ClientURL(), opts...)
	default:
		auth, aerr := e.cfg.authOptions()
		if aerr != nil {
			return nil, aerr
		}
		nc, err = nats.Connect(e.cfg.URL, append(opts, auth...)...)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: connect: %w", err)
	}
	e.mu.conns = append(e.mu.conns, nc)
	return nc, nil
}

// Conn returns the engine's shared client connection.
func (e *Engine) Conn() *nats.Conn { return e.nc }

// JetStream returns the JetStream context of the shared connection.
func (e *Engine) JetStream() jetstream.JetStream { return e.js }

// Embedded reports whether the server runs in this process.
func (e *Engine) Embedded() bool { return e.srv != nil }

// Config returns the effective configuration (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

// ClientURL returns the URL NATS clients outside the process can use: the
// listener of the embedded server, the external URL, or "" when the embedded
// server has no listener.
func (e *Engine) ClientURL() string {
	if e.srv == nil {
		return redactURL(e.cfg.URL)
	}
	if e.cfg.Listen == "" {
		return ""
	}
	return e.srv.ClientURL()
}

// Name returns the engine name of a pricestream object of the given kind
// ("stream", "table" ...), for JetStream streams and buckets. Dots in name
// become '~' (JetStream names cannot hold dots).
func (e *Engine) Name(kind, name string) string {
	return e.cfg.Namespace + "_" + kind + "_" + Token(name)
}

// Subject joins the namespace and tokens into a subject; each token has its
// dots replaced as in [Token].
func (e *Engine) Subject(tokens ...string) string {
	var b strings.Builder
	b.WriteString(e.cfg.Namespace)
	for _, t := range tokens {
		b.WriteByte('.')
		b.WriteString(Token(t))
	}
	return b.String()
}

// Token makes name usable as one subject token or in a JetStream name by
// replacing '.' with '~'. Names that reach it are validated by their owners
// and hold no '~', so the mapping is reversible.
func Token(name string) string { return strings.ReplaceAll(name, ".", "~") }

// Close drains the client connections, stops the embedded server (flushing
// its store) and releases the data directory. It is idempotent, blocks until
// the server has stopped, and returns nil after the first call.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil
	}
	e.mu.closed = true
	conns := e.mu.conns
	e.mu.conns = nil
	e.mu.Unlock()

	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			drainConn(nc, 5*time.Second)
		}()
	}
	wg.Wait()
	if e.disk != nil {
		e.disk.close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		if e.dur != nil {
			e.dur.close()
		}
		e.logger.Info("engine stopped")
	}
	e.unlock()
	return nil
}

func drainConn(nc *nats.Conn, timeout time.Duration) {
	if nc.IsClosed() {
		return
	}
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		nc.Close()
	}
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.closed
}

func (e *Engine) unlock() {
	if e.lock != nil {
		_ = syscall.Flock(int(e.lock.Fd()), syscall.LOCK_UN)
		_ = e.lock.Close()
		e.lock = nil
	}
}

// lockDir takes an exclusive lock on dir so that two processes never share
// one store.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("engine: lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: data dir %s is in use by another process: %w", dir, err)
	}
	return f, nil
}

func redactURL(u string) string {
	// nats://user:pass@host -> nats://***@host
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				parts[i] = p[:s+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// serverLogger adapts the NATS server's logger to slog.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  {}

// randomToken returns 32 random bytes as hex: the loopback listener's
// token.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("engine: token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
