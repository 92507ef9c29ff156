package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/demo"
	"github.com/pricestream/pricestream/internal/sim"
)

func newDemoCmd() *cobra.Command {
	var f serverFlags
	var o demo.Options
	var asJSON bool
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the Fast Sneakers pipeline with a simulated shop and the dashboard, in one process",
		Long: `demo starts pricestream with the Fast Sneakers scenario applied (streams,
tables, the click-features and sales jobs, the pricing model and endpoint,
the reprice trigger) and a simulated sneaker shop sending clicks and orders
to it over HTTP. Open the printed URL to watch prices follow demand.
Data lives in ./pricestream-data unless --data-dir says otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			useProcs(cfg)
			if f.logLevel == "" && os.Getenv("PRICESTREAM_LOG_LEVEL") == "" {
				cfg.Log.Level = "warn" // the live line says what happens
			}
			logger := app.NewLogger(cfg.Log, os.Stderr)
			o.App, o.Logger, o.Sim.Seed = cfg, logger, seed
			o.Out = os.Stderr
			s, err := demo.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(os.Stdout, s)
			}
			fmt.Fprintf(os.Stderr, "%d events, %d price changes (%d refused, %d guardrail violations), revenue %.2f vs %.2f at static prices (%+.2f%%), end to end p50 %.2f ms, p99 %.2f ms\n",
				s.Events, s.PriceChanges, s.RefusedChanges, s.GuardrailViolations, s.RevenueDynamic, s.RevenueStatic, s.RevenueUpliftPct, s.E2EP50Millis, s.E2EP99Millis)
			return nil
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&o.Duration, "duration", 0, "stop after this long (default: run until Ctrl-C)")
	fl.BoolVar(&asJSON, "json", false, "print the final summary as a JSON object on stdout")
	fl.Float64Var(&o.Speed, "speed", 10, "simulated seconds per real second")
	fl.Uint64Var(&seed, "seed", 42, "seed of the simulated shop")
	fl.IntVar(&o.Sim.Products, "products", 50, "products in the simulated catalog")
	fl.Float64Var(&o.Sim.ViewsPerSecond, "views-per-second", 20, "the shop's mean product views per simulated second")
	fl.StringVar(&o.API, "api", "native", "how the shop sends events: native or kinesis")
	return cmd
}

func newBenchCmd(g *globals) *cobra.Command {
	var f serverFlags
	var o demo.BenchOptions
	var asJSON bool
	var cpuProfile, memProfile, traceFile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive the full pipeline at a steady rate and report end-to-end latency",
		Long: `bench runs the Fast Sneakers pipeline (embedded, in this process, unless
--server names a running server) with a simulated shop sending at a steady
rate, and reports the accepted → price-committed latency (p50, p99, p99.9)
from the price_changes records, the sustained events/s, dropped and late
events, the peak resident memory, and the simulated shop's revenue at the
pipeline's prices against static ones.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if f.dataDir == "" && os.Getenv("PRICESTREAM_DATA_DIR") == "" {
				dir, err := os.MkdirTemp("", "pricestream-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				cfg.Engine.DataDir = dir
			}
			if f.http == "" {
				cfg.HTTP.Addr = "127.0.0.1:0"
			}
			useProcs(cfg)
			if cmd.Flags().Changed("server") || cmd.InheritedFlags().Changed("server") {
				o.Server, o.Token = g.server, g.token
			}
			if f.logLevel == "" && os.Getenv("PRICESTREAM_LOG_LEVEL") == "" {
				cfg.Log.Level = "warn"
			}
			o.App, o.Logger, o.Out = cfg, app.NewLogger(cfg.Log, os.Stderr), os.Stderr
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			prof := &benchProfiles{cpu: cpuProfile, mem: memProfile, trace: traceFile}
			if prof.any() {
				o.Measure = prof.measure
				defer prof.stop()
			}
			res, err := demo.Bench(ctx, o)
			if err != nil {
				return err
			}
			if err := prof.result(); err != nil {
				return err
			}
			if asJSON {
				return printJSON(os.Stdout, res)
			}
			fmt.Printf("%.0f events/s for %.1f s (fsync %s): %d events accepted (%.0f/s), %d dropped, %d late\n", res.Rate, res.Seconds, res.Fsync, res.Events, res.EventsPerSec, res.Dropped, res.Late)
			fmt.Printf("accepted → price committed: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms over %d price changes (%d decisions)\n", res.E2EP50, res.E2EP99, res.E2EP999, res.E2ESamples, res.Decisions)
			fmt.Printf("peak RSS %.0f MB, guardrail violations %d\n", res.RSSMB, res.Violations)
			fmt.Printf("simulated revenue %.2f at the pipeline's prices, %.2f at static ones (%+.2f%%), %d orders\n", res.RevenueDynamic, res.RevenueStatic, res.RevenueUpliftPct, res.Orders)
			if res.CPUMicrosPerEvent > 0 {
				fmt.Printf("CPU %.0f µs per event (%.2f cores busy, GOMAXPROCS %d; the simulator and monitor included), %d garbage collections using %.1f%% of it\n", res.CPUMicrosPerEvent, res.CPUCores, res.Procs, res.GCCycles, res.GCCPUPct)
			}
			if len(res.Stages) > 0 {
				fmt.Println("by hop, after the warm-up (observations, p50 / p99 ms, from the pipeline's histograms):")
				for _, name := range demo.StageNames() {
					if st, ok := res.Stages[name]; ok {
						fmt.Printf("  %-19s %9d  %8.2f / %8.2f\n", name, st.Count, st.P50, st.P99)
					}
				}
			}
			if len(res.E2EWindows) > 0 {
				fmt.Println("by decision time (s after the start: price changes, p50 / p99 ms):")
				for _, w := range res.E2EWindows {
					fmt.Printf("  %6.1f: %6d  %8.2f / %8.2f\n", w.At, w.Changes, w.P50, w.P99)
				}
			}
			return nil
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.Float64Var(&o.Rate, "rate", 10_000, "events per second")
	fl.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to send")
	fl.DurationVar(&o.Warmup, "warmup", 3*time.Second, "left out of the latency figures")
	fl.DurationVar(&o.Window, "window", 5*time.Second, "the interval of the latency figures by decision time (e2e_windows in --json)")
	fl.IntVar(&o.Products, "products", 10_000, "products in the simulated catalog")
	fl.Float64Var(&o.IntentShare, "intent-share", demo.BenchIntentShare, "share of the simulated shop's views by visitors who would buy: the default makes 1.3% of the events purchases, as in a real clickstream; 0.3 (the demo's shop) makes 10%")
	fl.StringVar(&o.API, "api", "native", "how events are sent: native or kinesis")
	fl.BoolVar(&asJSON, "json", false, "print the results as a JSON object")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the load after the warm-up to this file (read it with go tool pprof)")
	fl.StringVar(&memProfile, "memprofile", "", "write a profile of the memory allocations from the start to the load's end to this file (read it with go tool pprof -sample_index=alloc_space)")
	fl.StringVar(&traceFile, "trace", "", "write an execution trace of the load after the warm-up to this file (read it with go tool trace; it grows by tens of MB a second, so keep --duration short)")
	return cmd
}

func newSimCmd(g *globals) *cobra.Command {
	var o sim.Options
	var asJSON, lockstep bool
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the simulated sneaker shop against a running server",
		Long: `sim writes a simulated sneaker catalog to the products table and sends the
shop's clicks (to the clicks stream) and orders (to the orders table) to
the server named by --server, in simulated time (--speed), and scores the
revenue against the same shop at static prices. The scenario must be
applied first (pricestream apply -f examples/fastsneakers/).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := g.client()
			o.Client, o.BaseURL = c, g.server
			if lockstep {
				o.Speed = 0
				o.Barrier = (&demo.Pipeline{Client: c}).Barrier()
			}
			if o.Start.IsZero() {
				o.Start = demo.StartAfter(cmd.Context(), c)
			}
			s, err := sim.New(o)
			if err != nil {
				return err
			}
			if err := s.Setup(cmd.Context()); err != nil {
				return err
			}
			score, err := s.Run(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(os.Stdout, score)
			}
			fmt.Printf("%.0f simulated seconds: %d events, %d purchases, revenue %.2f vs %.2f at static prices (%+.2f%%)\n",
				score.SimSeconds, score.Events, score.Purchases, score.RevenueDynamic, score.RevenueStatic, score.UpliftPct)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&o.Seed, "seed", 42, "seed: the same seed makes the same shop")
	fl.IntVar(&o.Config.Products, "products", 50, "products in the catalog")
	fl.Float64Var(&o.ViewsPerSecond, "views-per-second", 20, "mean product views per simulated second")
	fl.Float64Var(&o.Speed, "speed", 10, "simulated seconds per real second")
	fl.BoolVar(&lockstep, "lockstep", false, "after each step wait for the pipeline to take everything in (reproducible runs)")
	fl.DurationVar(&o.Step, "step", 0, "simulated time per step (default 1s in lockstep, else 20ms of real time)")
	fl.DurationVar(&o.Duration, "duration", 0, "simulated time to run (default: until Ctrl-C)")
	fl.DurationVar(&o.Explore, "explore", 0, "set random prices within bounds this often (an A/B price test, for training data; turn pricing off first)")
	fl.StringVar(&o.API, "api", "native", "how events are sent: native or kinesis")
	fl.BoolVar(&o.Flat, "flat", false, "steady traffic, no daily curve")
	fl.Float64Var(&o.TrendsPerDay, "trends-per-day", 4, "random demand shocks per simulated day")
	fl.Float64Var(&o.IntentShare, "intent-share", 0.3, "share of views by visitors who would buy at an acceptable price (0.3 makes about one event in ten a purchase, 0.03 one in 75)")
	fl.DurationVar(&o.OrderTTL, "order-ttl", sim.DefaultOrderTTL, "wall-clock time an order stays in the orders table (its expires_at, for the table's Time to Live; 0: the default); negative: orders never expire")
	fl.BoolVar(&asJSON, "json", false, "print the score as JSON")
	return cmd
}

// benchProfiles are the profiles a bench writes of its measured interval
// (demo.BenchOptions.Measure): the CPU profile and the execution trace
// from the warm-up's end to the load's, the allocation profile at the
// load's end (the runtime counts allocations from the process's start),
// none of them of the pipeline's start or its drain and stop.
type benchProfiles struct {
	cpu, mem, trace    string
	cpuFile, traceFile *os.File
	began              bool
	err                error
}

func (p *benchProfiles) any() bool { return p.cpu != "" || p.mem != "" || p.trace != "" }

func (p *benchProfiles) measure(begin bool) {
	if p.err != nil {
		return
	}
	if !begin {
		p.stop()
		if p.mem != "" && p.err == nil {
			p.err = writeAllocProfile(p.mem)
		}
		return
	}
	p.began = true
	if p.cpu != "" {
		if p.cpuFile, p.err = os.Create(p.cpu); p.err != nil {
			return
		}
		if p.err = pprof.StartCPUProfile(p.cpuFile); p.err != nil {
			return
		}
	}
	if p.trace != "" {
		if p.traceFile, p.err = os.Create(p.trace); p.err != nil {
			return
		}
		p.err = trace.Start(p.traceFile)
	}
}

// stop ends the profiles running and closes their files; it may be
// called again.
func (p *benchProfiles) stop() {
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		if err := p.cpuFile.Close(); err != nil && p.err == nil {
			p.err = err
		}
		p.cpuFile = nil
	}
	if p.traceFile != nil {
		trace.Stop()
		if err := p.traceFile.Close(); err != nil && p.err == nil {
			p.err = err
		}
		p.traceFile = nil
	}
}

// result is the error of writing the profiles, or says that there were
// none to write: a load that ended within its warm-up measures nothing.
func (p *benchProfiles) result() error {
	if p.err != nil {
		return fmt.Errorf("bench: profiles: %w", p.err)
	}
	if p.any() && !p.began {
		return errors.New("bench: the load ended within its warm-up: no profile written (a longer --duration or a shorter --warmup)")
	}
	return nil
}

// writeAllocProfile writes the allocations made since the process started
// as a pprof profile.
func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
