package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/engine"
)

// serverFlags are the flags of commands that run a server (serve, and
// later demo and bench): they override the file and the environment.
type serverFlags struct {
	config     string
	http       string
	dataDir    string
	natsURL    string
	natsListen string
	fsync      string
	logLevel   string
	logFormat  string
	insecure   bool
}

func (f *serverFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration file")
	fl.StringVar(&f.http, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory of the embedded engine (default ./pricestream-data)")
	fl.StringVar(&f.natsURL, "nats-url", "", "connect to this NATS server or cluster instead of embedding one")
	fl.StringVar(&f.natsListen, "nats-listen", "", "let NATS clients connect to the embedded engine on this address")
	fl.StringVar(&f.fsync, "fsync", "", `fsync policy of the embedded engine: "always" (default: fsync before every acknowledgement, writes waiting at once sharing one fsync), "per-message" (the NATS server's own fsync of each message) or "interval:DURATION" (can lose that window of acknowledged writes on power failure)`)
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json")
	fl.BoolVar(&f.insecure, "insecure", false, "allow listening on a non-loopback address with authentication off")
}

// load builds the configuration: defaults, then the file, then
// PRICESTREAM_* variables, then flags.
func (f *serverFlags) load() (app.Config, error) {
	cfg := app.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = app.LoadFile(f.config); err != nil {
			return cfg, err
		}
	}
	if err := app.ApplyEnv(&cfg, os.Environ()); err != nil {
		return cfg, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.HTTP.Addr, f.http)
	set(&cfg.Engine.DataDir, f.dataDir)
	set(&cfg.Engine.URL, f.natsURL)
	set(&cfg.Engine.Listen, f.natsListen)
	set(&cfg.Log.Level, f.logLevel)
	set(&cfg.Log.Format, f.logFormat)
	if f.insecure {
		cfg.HTTP.Insecure = true
	}
	if f.fsync != "" {
		p, err := engine.ParseFsync(f.fsync)
		if err != nil {
			return cfg, fmt.Errorf("--fsync: %w", err)
		}
		cfg.Engine.Fsync = p
	}
	return cfg, cfg.Validate()
}

// useProcs sets how many goroutines the server process runs at once
// (GOMAXPROCS, see app.Procs) and returns it.
func useProcs(cfg app.Config) int {
	_, envSet := os.LookupEnv("GOMAXPROCS")
	n := app.Procs(cfg.Procs, envSet, runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(n)
	return n
}

func newServeCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the pricestream server (engine, APIs, metrics)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			procs := useProcs(cfg)
			logger := app.NewLogger(cfg.Log, os.Stderr)
			a, err := app.New(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			logger.Info("pricestream serving", "version", version, "url", "http://"+a.Addr(), "engine", map[bool]string{true: "embedded", false: "external"}[a.Engine().Embedded()], "fsync", cfg.Engine.Fsync.String(), "procs", procs)
			return a.Run(cmd.Context())
		},
	}
	f.register(cmd)
	return cmd
}
