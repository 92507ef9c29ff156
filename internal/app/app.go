package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/tetratelabs/wazero"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/kinesis"
	"github.com/pricestream/pricestream/internal/api/oip"
	"github.com/pricestream/pricestream/internal/api/sagemaker"
	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/trigger"
	"github.com/pricestream/pricestream/internal/web"
)

// NewLogger returns the logger the configuration asks for, writing to w.
func NewLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// App is a running pricestream: its engine, parts and HTTP server.
type App struct {
	cfg      Config
	logger   *slog.Logger
	registry *prometheus.Registry
	engine   *engine.Engine
	streams  *stream.Manager
	catalog  *catalog.Catalog
	tables   *table.Manager
	jobs     *etl.Manager
	triggers *trigger.Manager
	funcs    *trigger.Registry
	wasm     wazero.CompilationCache
	models   *model.Registry
	controls *pricing.Controls
	eps      *model.Endpoints
	server   *api.Server
	auth     *auth.Authenticator
	web      *web.Dashboard
}

// New validates cfg, starts the engine and builds the parts and the HTTP
// server, bound to its address but not yet serving. The caller must call
// [App.Run] or [App.Close].
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	a := &App{cfg: cfg, logger: logger, registry: prometheus.NewRegistry()}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	if a.engine, err = engine.Start(ctx, cfg.Engine, engine.Deps{Logger: logger, Registerer: a.registry}); err != nil {
		return nil, err
	}
	if _, ok := a.engine.DiskFree(); ok {
		a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pricestream_engine_disk_free_bytes",
			Help: "Free bytes of the embedded engine's data directory; writes are refused below engine.min_free_bytes.",
		}, func() float64 { free, _ := a.engine.DiskFree(); return float64(free) }))
	}
	if a.streams, err = stream.New(cfg.Streams, stream.Deps{Engine: a.engine, Logger: logger, Registerer: a.registry}); err != nil {
		a.Close()
		return nil, err
	}
	if a.tables, err = table.New(cfg.Tables, table.Deps{Engine: a.engine, Logger: logger, Registerer: a.registry}); err != nil {
		a.Close()
		return nil, err
	}
	if !cfg.Auth.Enabled && !api.IsLoopback(cfg.HTTP.Addr) {
		if !cfg.HTTP.Insecure {
			a.Close()
			return nil, fmt.Errorf("app: refusing to listen on %s, which is not a loopback address, with authentication off: set auth.enabled (and keys or AWS credentials), or http.insecure (--insecure) to accept that anyone who reaches the port can read and write everything", cfg.HTTP.Addr)
		}
		logger.Warn("listening on a non-loopback address with authentication off (--insecure): anyone who reaches the port can read and write everything", "addr", cfg.HTTP.Addr)
	}
	if a.auth, err = auth.New(ctx, cfg.Auth, a.engine, logger); err != nil {
		a.Close()
		return nil, err
	}
	if a.catalog, err = catalog.New(cfg.Catalog, catalog.Deps{Engine: a.engine, Logger: logger, Registerer: a.registry}); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.catalog.Start(ctx); err != nil {
		a.Close()
		return nil, err
	}
	if a.jobs, err = etl.New(cfg.ETL, etl.Deps{Engine: a.engine, Streams: a.streams, Tables: a.tables, Catalog: a.catalog, Logger: logger, Registerer: a.registry}); err != nil {
		a.Close()
		return nil, err
	}
	a.funcs = trigger.NewRegistry()
	if a.controls, err = pricing.OpenControls(ctx, a.engine, logger); err != nil {
		a.Close()
		return nil, err
	}
	var wasmCache wazero.CompilationCache
	if a.engine.Embedded() {
		// Compiled WebAssembly functions survive restarts beside the data.
		if wasmCache, err = wazero.NewCompilationCacheWithDir(filepath.Join(cfg.Engine.DataDir, "wasm-cache")); err != nil {
			logger.Warn("no disk cache for compiled wasm functions", "err", err)
		}
	}
	a.wasm = wasmCache
	if a.triggers, err = trigger.New(cfg.Triggers, trigger.Deps{
		Engine: a.engine,
		Sources: &trigger.Sources{Streams: a.streams, Region: cfg.Kinesis.Region, AccountID: cfg.Kinesis.AccountID,
			Tables: &trigger.TableOpener{Tables: a.tables, Region: cfg.DynamoDB.Region, AccountID: cfg.DynamoDB.AccountID}},
		Streams:    a.streams,
		Functions:  a.funcs,
		WasmCache:  wasmCache,
		Logger:     logger,
		Registerer: a.registry,
	}); err != nil {
		a.Close()
		return nil, err
	}
	mdeps := model.Deps{Engine: a.engine, Streams: a.streams, Logger: logger, Registerer: a.registry}
	if a.models, err = model.NewRegistry(ctx, cfg.Models, mdeps); err != nil {
		a.Close()
		return nil, err
	}
	if a.eps, err = model.NewEndpoints(ctx, cfg.Models, a.models, mdeps); err != nil {
		a.Close()
		return nil, err
	}
	pricer, err := pricing.New(cfg.Pricing, pricing.Deps{
		Tables: a.tables, Streams: a.streams, Controls: a.controls, Logger: logger, Registerer: a.registry,
		Predictors: func(name string) (pricing.Predictor, error) { return a.eps.Endpoint(name) },
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	if err := a.funcs.Register(pricing.FunctionName, pricer); err != nil {
		a.Close()
		return nil, err
	}
	if a.server, err = api.New(cfg.HTTP, api.Deps{Streams: a.streams, Catalog: a.catalog, Tables: a.tables, Triggers: a.triggers, Auth: a.auth, Models: a.models, Endpoints: a.eps, Pricing: a.controls, Logger: logger, Registerer: a.registry, Gatherer: a.registry}); err != nil {
		a.Close()
		return nil, err
	}
	a.server.AddReadyCheck("engine", a.engine.Ready)
	api.MountJobs(a.server, a.jobs)
	if a.web, err = web.New(cfg.Dashboard, web.Deps{Streams: a.streams, Tables: a.tables, Jobs: a.jobs, Triggers: a.triggers, Controls: a.controls, Auth: a.auth, Logger: logger}); err != nil {
		a.Close()
		return nil, err
	}
	// The dashboard at / and /ui/, behind the server's authorization
	// table; its event streams end when the server shuts down.
	a.web.Mount(a.server)
	a.server.RegisterOnShutdown(a.web.Drain)
	key, err := a.engine.Secret(ctx, "kinesis-iterators")
	if err != nil {
		a.Close()
		return nil, err
	}
	kh, err := kinesis.New(cfg.Kinesis, kinesis.Deps{Streams: a.streams, IteratorKey: key, Logger: logger, Registerer: a.registry, Check: a.server.CheckPut})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.server.HandleTarget(kinesis.Target, kh)
	if err := a.mountDynamoDB(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	sm, err := sagemaker.New(sagemaker.Config{}, a.eps.Endpoint, logger)
	if err != nil {
		a.Close()
		return nil, err
	}
	sm.Mount(a.server)
	oh, err := oip.New(oip.Config{Ready: a.engine.Ready}, a.eps.Endpoint, logger)
	if err != nil {
		a.Close()
		return nil, err
	}
	oh.Mount(a.server)
	if err := a.server.Listen(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Addr returns the HTTP server's bound address.
func (a *App) Addr() string { return a.server.Addr().String() }

// Routes returns the HTTP routes served.
func (a *App) Routes() []string { return a.server.Routes() }

// Engine returns the engine.
func (a *App) Engine() *engine.Engine { return a.engine }

// Streams returns the stream manager.
func (a *App) Streams() *stream.Manager { return a.streams }

// Catalog returns the data catalog.
func (a *App) Catalog() *catalog.Catalog { return a.catalog }

// Jobs returns the ETL job manager.
func (a *App) Jobs() *etl.Manager { return a.jobs }

// Tables returns the table manager.
func (a *App) Tables() *table.Manager { return a.tables }

// Triggers returns the trigger manager.
func (a *App) Triggers() *trigger.Manager { return a.triggers }

// Dashboard returns the dashboard, mounted at / and /ui/ and run by
// [App.Run].
func (a *App) Dashboard() *web.Dashboard { return a.web }

// Functions returns the registry of Go functions triggers can call
// ("go:NAME"); register them before [App.Run].
func (a *App) Functions() *trigger.Registry { return a.funcs }

// ErrShutdownTimeout is returned by [App.Run] when the graceful shutdown
// did not finish within shutdown_timeout: Run returns anyway, leaving the
// rest to the process exit. Acknowledged writes are already durable.
var ErrShutdownTimeout = errors.New("app: shutdown deadline passed with work still running")

// Run serves until ctx is done, SIGINT or SIGTERM arrives, or a part fails;
// then it shuts down gracefully and closes the app. It returns nil after a
// clean stop.
//
// Shutdown stops intake (the listener), lets in-flight requests finish
// within three quarters of shutdown_timeout, stops ETL jobs and triggers
// (which finish their batches in flight and commit their checkpoints),
// then closes the streams (waiting for their writes) and the engine (which
// flushes its store). If all that takes longer than shutdown_timeout, Run
// returns [ErrShutdownTimeout] without waiting further.
func (a *App) Run(ctx context.Context) error {
	var g run.Group
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopping := make(chan struct{})
	var stopOnce sync.Once
	g.Add(func() error {
		<-ctx.Done()
		return nil
	}, func(error) {
		stopOnce.Do(func() { close(stopping) })
		cancel()
	})
	g.Add(run.SignalHandler(ctx, os.Interrupt, syscall.SIGTERM))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	g.Add(func() error {
		for {
			select {
			case <-hup:
				if err := a.server.ReloadTLS(); err != nil {
					a.logger.Error("tls certificate not reloaded; the previous one stays in use", "err", err)
				} else if a.server.TLS() {
					a.logger.Info("tls certificate reloaded")
				}
			case <-ctx.Done():
				return nil
			}
		}
	}, func(error) { signal.Stop(hup); cancel() })
	wctx, stopWeb := context.WithCancel(context.WithoutCancel(ctx))
	g.Add(func() error { return a.web.Run(wctx) }, func(error) { stopWeb() })
	jctx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	g.Add(func() error { return a.jobs.Run(jctx) }, func(error) { stopJobs() })
	drain := a.cfg.ShutdownTimeout * 3 / 4
	g.Add(a.server.Serve, func(error) {
		sctx, scancel := context.WithTimeout(context.Background(), drain)
		defer scancel()
		a.logger.Info("shutting down: no new requests, finishing in-flight ones", "timeout", a.cfg.ShutdownTimeout)
		if err := a.server.Shutdown(sctx); err != nil {
			a.logger.Warn("requests still running at the shutdown deadline were cut off", "err", err)
		}
	})
	lctx, stopLag := context.WithCancel(ctx)
	g.Add(func() error { return a.watchLag(lctx) }, func(error) { stopLag() })
	tctx, tcancel := context.WithCancel(context.Background())
	g.Add(func() error { return a.triggers.Run(tctx) }, func(error) {
		// Triggers drain their batches in flight and commit checkpoints.
		tcancel()
	})
	done := make(chan error, 1)
	go func() {
		err := g.Run()
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = nil // the signal handler saw the stop first
		}
		tcancel()
		if errors.Is(err, run.ErrSignal) {
			a.logger.Info("stopping on signal", "signal", err.Error())
			err = nil
		}
		a.Close()
		done <- err
	}()
	select {
	case err := <-done:
		// The stop may have begun (a signal) and ended before this saw
		// it begin: it was clean all the same.
		if err == nil {
			a.logger.Info("shut down cleanly")
		}
		return err
	case <-stopping:
	}
	t := time.NewTimer(a.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err == nil {
			a.logger.Info("shut down cleanly")
		}
		return err
	case <-t.C:
		a.logger.Error("shutdown deadline passed: exiting without waiting for the rest; acknowledged writes are durable, work in flight is redone after restart", "timeout", a.cfg.ShutdownTimeout)
		return ErrShutdownTimeout
	}
}

// Close stops the parts and the engine, in that order. It is idempotent.
func (a *App) Close() {
	if a.triggers != nil {
		_ = a.triggers.Close()
	}
	if a.wasm != nil {
		_ = a.wasm.Close(context.Background())
	}
	a.auth.Close()
	if a.controls != nil {
		a.controls.Close() // its watcher reads the engine: before the engine closes
	}
	if a.eps != nil {
		a.eps.Close()
	}
	if a.catalog != nil {
		a.catalog.Close()
	}
	if a.streams != nil {
		a.streams.Close()
	}
	if a.tables != nil {
		a.tables.Close()
	}
	if a.engine != nil {
		a.engine.Close()
	}
}

// Describe returns a one-line summary for the startup log.
func (a *App) Describe() string {
	return fmt.Sprintf("http=%s engine=%s", a.Addr(), map[bool]string{true: "embedded", false: "external"}[a.engine.Embedded()])
}

// The catalog resolves the catalog tables ETL jobs read.
var _ etl.Catalog = (*catalog.Catalog)(nil)
