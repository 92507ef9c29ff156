package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/cputime"
	"github.com/pricestream/pricestream/internal/histogram"
	"github.com/pricestream/pricestream/internal/sim"
)

// Options configure a demo run.
type Options struct {
	App app.Config
	Sim sim.Config
	// Speed is simulated seconds per real second. Default 10.
	Speed float64
	// Duration ends the demo after this much real time (0: on ctx).
	Duration time.Duration
	// API is how the shop sends events: native or kinesis.
	API string
	// Out receives the dashboard URL and a live summary line a second.
	Out    io.Writer
	Logger *slog.Logger
}

// Summary is the outcome of a demo run.
type Summary struct {
	Events              int64   `json:"events"`
	EventsFailed        int64   `json:"events_failed"`
	SimSeconds          float64 `json:"sim_seconds"`
	PriceChanges        int64   `json:"price_changes"`
	KeptDecisions       int64   `json:"kept_decisions"`
	RefusedChanges      int64   `json:"refused_changes"`
	GuardrailViolations int64   `json:"guardrail_violations"`
	RevenueDynamic      float64 `json:"revenue_dynamic"`
	RevenueStatic       float64 `json:"revenue_static"`
	RevenueUpliftPct    float64 `json:"revenue_uplift_pct"`
	E2EP50Millis        float64 `json:"e2e_p50_ms"`
	E2EP99Millis        float64 `json:"e2e_p99_ms"`
}

// Run runs the demo until Duration has passed or ctx ends, and returns
// its summary.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Speed == 0 {
		o.Speed = 10
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var s *sim.Simulator
	setup := func(ctx context.Context, c *client.Client) error {
		cfg := o.Sim
		if cfg.Start.IsZero() {
			cfg.Start = StartAfter(ctx, c)
		}
		if len(cfg.Trends) == 0 {
			// A trend on the most popular product two simulated minutes in,
			// so the first minutes show prices following demand.
			w, err := sim.NewWorld(cfg)
			if err != nil {
				return err
			}
			cfg.Trends = []sim.Trend{{Product: w.MostPopular(), At: 2 * time.Minute}}
		}
		var err error
		s, err = sim.New(sim.Options{Config: cfg, Client: c, API: o.API, BaseURL: c.BaseURL(), Speed: o.Speed, Logger: o.Logger})
		if err != nil {
			return err
		}
		return s.Setup(ctx)
	}
	p, err := Start(ctx, o.App, o.Logger, setup)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	fmt.Fprintf(o.Out, "pricestream demo: dashboard at %s/  (Ctrl-C stops)\n", p.URL)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	mon := p.monitor(o.App.Pricing.MaxStepPct)
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return mon.Run(gctx) })
	g.Go(func() error {
		_, err := s.Run(gctx)
		return err
	})
	g.Go(func() error { return live(gctx, o.Out, s, mon) })
	if err := g.Wait(); err != nil && runCtx.Err() == nil {
		return nil, err
	}
	fmt.Fprintln(o.Out)
	return summarize(s, mon), p.Stop()
}

func summarize(s *sim.Simulator, mon *Monitor) *Summary {
	sc := s.Score()
	st := mon.Stats(0)
	accepted, failed := s.Sent()
	return &Summary{
		Events: accepted, EventsFailed: failed, SimSeconds: sc.SimSeconds,
		PriceChanges: st.Applied, KeptDecisions: st.Kept, RefusedChanges: st.Refused, GuardrailViolations: st.Violations,
		RevenueDynamic: round2(sc.RevenueDynamic), RevenueStatic: round2(sc.RevenueStatic), RevenueUpliftPct: round2(sc.UpliftPct),
		E2EP50Millis: round2(st.E2EP50), E2EP99Millis: round2(st.E2EP99),
	}
}

func round2(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 2, 64), 64)
	return f
}

// live writes a summary line a second until ctx ends.
func live(ctx context.Context, out io.Writer, s *sim.Simulator, mon *Monitor) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			accepted, _ := s.Sent()
			rate := float64(accepted-last) / now.Sub(lastAt).Seconds()
			last, lastAt = accepted, now
			st, sc := mon.Stats(0), s.Score()
			fmt.Fprintf(out, "\rsim +%-8s %6.0f events/s  e2e p50 %5.2f ms  p99 %6.2f ms  price changes %d (refused %d)  revenue %+.1f%% vs static ",
				(time.Duration(sc.SimSeconds) * time.Second).String(), rate, st.E2EP50, st.E2EP99, st.Applied, st.Refused, sc.UpliftPct)
		}
	}
}

// BenchOptions configure a benchmark run.
type BenchOptions struct {
	App app.Config
	// Server, when set, is the URL of a running server to drive instead
	// of an embedded one; Token authenticates to it.
	Server, Token string
	// Rate is the steady rate of events per second. Default 10,000.
	Rate float64
	// Duration is how long to send. Default 30 s.
	Duration time.Duration
	// Warmup is left out of the latency figures. Default 3 s.
	Warmup time.Duration
	// Window is the interval of BenchResult.E2EWindows. Default 5 s.
	Window time.Duration
	// Measure, when set, is called with true when the warm-up ends and
	// with false when the load ends, before the pipeline drains and stops:
	// the interval the CPU and allocation figures cover, which the CLI's
	// profiles cover too. It is not called when the load ends within the
	// warm-up. Its calls do not overlap.
	Measure func(begin bool)
	// Products is the catalog size. Default 10,000.
	Products int
	// IntentShare is the simulated shop's share of views by visitors who
	// would buy at an acceptable price (sim.Config.IntentShare). Default
	// BenchIntentShare, which makes about one event in 75 a purchase, as
	// in a real shop's clickstream; the demo's shop (0.3) makes one in
	// ten, and an orders table and a sales job 7.5 times as busy.
	IntentShare float64
	API         string
	Out         io.Writer
	Logger      *slog.Logger
}

// BenchResult is what a benchmark reports.
type BenchResult struct {
	Rate         float64 `json:"rate"`
	Seconds      float64 `json:"seconds"`
	Fsync        string  `json:"fsync,omitempty"`
	Events       int64   `json:"events"`
	EventsPerSec float64 `json:"events_per_s"`
	Dropped      int64   `json:"dropped"`
	Late         uint64  `json:"late"`
	PriceChanges int64   `json:"price_changes"`
	Decisions    int64   `json:"decisions"`
	E2ESamples   int     `json:"e2e_samples"`
	E2EP50       float64 `json:"e2e_p50_ms"`
	E2EP99       float64 `json:"e2e_p99_ms"`
	E2EP999      float64 `json:"e2e_p999_ms"`
	RSSMB        float64 `json:"rss_mb"`
	// CPUMicrosPerEvent is the process's CPU time (user and system) per
	// event accepted after the warm-up, in µs: the pipeline and, when it
	// is embedded, the simulator, its client and the monitor too. 0 when
	// the pipeline runs in another process.
	CPUMicrosPerEvent float64 `json:"cpu_us_per_event,omitempty"`
	// CPUCores is that CPU time per second of the same interval: how many
	// cores the run kept busy.
	CPUCores float64 `json:"cpu_cores,omitempty"`
	// Procs is the process's GOMAXPROCS during the run (app.Procs), when
	// the pipeline is embedded.
	Procs int `json:"procs,omitempty"`
	// GCCycles counts the garbage collections of the same interval, and
	// GCCPUPct is the collector's share of the process's CPU time in it
	// (the runtime's estimate). Each collection marks the live heap for
	// tens to hundreds of milliseconds, and on two busy cores its marking
	// slows the whole pipeline while it runs (docs/performance.md).
	GCCycles uint64  `json:"gc_cycles,omitempty"`
	GCCPUPct float64 `json:"gc_cpu_pct,omitempty"`
	// AllocBytesPerEvent is the heap allocated per event in the same
	// interval: at a given heap size, the collections a run needs grow
	// with it, and it varies far less from run to run than the latency
	// of a loaded machine does.
	AllocBytesPerEvent uint64 `json:"alloc_bytes_per_event,omitempty"`
	Violations         int64  `json:"guardrail_violations"`
	// RevenueDynamic and RevenueStatic are the simulated shop's revenue
	// over the whole run at the pipeline's prices and, for the same
	// visitors, at the catalog's base prices; RevenueUpliftPct is the
	// first over the second, in percent (the demo's summary has them too).
	// The bench's shop has flat traffic and few trends: what dynamic
	// prices can earn there is small (docs/fastsneakers.md).
	RevenueDynamic   float64 `json:"revenue_dynamic"`
	RevenueStatic    float64 `json:"revenue_static"`
	RevenueUpliftPct float64 `json:"revenue_uplift_pct"`
	// Orders counts the orders the simulated shop wrote over the whole
	// run (a purchase each), the load of the orders table and the sales
	// job ([BenchOptions.IntentShare]).
	Orders int64 `json:"orders"`
	// E2EWindows are the latency percentiles of the applied changes after
	// the warm-up by when they were decided, per BenchOptions.Window: the
	// cooldown's waves of price changes, which set a short run's
	// percentiles, show in them (docs/performance.md).
	E2EWindows []Window `json:"e2e_windows,omitempty"`
	// Stages are the percentiles of each hop of an event's way to a
	// price ([StageNames], in order; engine_group_sync with fsync always
	// only) over the same interval as the CPU figures, from the
	// pipeline's own histograms (its /metrics at the warm-up's end and at
	// the load's). A percentile is interpolated within its histogram
	// bucket, so it is as good as the buckets are fine (a factor of 2 for
	// the ETL's stages, 2 to 2.5 for the others).
	Stages map[string]StageLatency `json:"stages,omitempty"`
}

// BenchIntentShare is the bench's default [BenchOptions.IntentShare]:
// with it 1.3% of the events (1.9% of the views) are purchases; in the
// REES46 sample of a real shop's clickstream
// (examples/data/rees46-2019-oct-sample.csv) 1.0% are.
const BenchIntentShare = 0.03

// Bench drives the full pipeline at a steady rate and reports the
// accepted → price-committed latency from the price_changes records.
func Bench(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	if o.Rate == 0 {
		o.Rate = 10_000
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 3 * time.Second
	}
	if o.Window == 0 {
		o.Window = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Products == 0 {
		o.Products = 10_000
	}
	if o.IntentShare == 0 {
		o.IntentShare = BenchIntentShare
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	cfg := sim.Config{Products: o.Products, Flat: true, TrendsPerDay: 200, IntentShare: o.IntentShare}
	// Calibrate: the events per view of this catalog, from a dry run of
	// the same world.
	perView, err := eventsPerView(cfg)
	if err != nil {
		return nil, err
	}
	cfg.ViewsPerSecond = o.Rate / perView
	var s *sim.Simulator
	setup := func(ctx context.Context, c *client.Client) error {
		cfg.Start = StartAfter(ctx, c)
		var err error
		s, err = sim.New(sim.Options{Config: cfg, Client: c, API: o.API, BaseURL: c.BaseURL(), Speed: 1, Step: 10 * time.Millisecond, Senders: 8, Logger: o.Logger})
		if err != nil {
			return err
		}
		return s.Setup(ctx)
	}
	var p *Pipeline
	if o.Server != "" {
		var opts []client.Option
		if o.Token != "" {
			opts = append(opts, client.WithToken(o.Token))
		}
		p, err = Connect(ctx, o.Server, client.New(o.Server, opts...), setup)
	} else {
		p, err = Start(ctx, o.App, o.Logger, setup)
	}
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	mon := p.monitor(o.App.Pricing.MaxStepPct)
	monCtx, stopMon := context.WithCancel(ctx)
	var monWG sync.WaitGroup
	monWG.Go(func() {
		if err := mon.Run(monCtx); err != nil {
			o.Logger.Warn("bench: the price-changes monitor stopped; the latency figures are incomplete", "err", err)
		}
	})
	defer func() {
		stopMon()
		monWG.Wait()
	}()

	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	fmt.Fprintf(o.Out, "bench: %.0f events/s for %s against %s\n", o.Rate, o.Duration, p.URL)
	start := time.Now()
	var skip atomic.Int64
	var warmCPU atomic.Pointer[cpuMark]
	var warmStages atomic.Pointer[map[string]histogram.Histogram]
	scrape := func() map[string]histogram.Histogram {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		h, err := scrapeStages(sctx, strings.TrimSuffix(p.URL, "/")+"/metrics", o.Token)
		if err != nil {
			o.Logger.Warn("bench: the pipeline's metrics could not be read; no stages reported", "err", err)
			return nil
		}
		return h
	}
	var measure struct {
		sync.Mutex
		begun, ended bool
	}
	warm := time.AfterFunc(o.Warmup, func() {
		skip.Store(int64(mon.Stats(0).E2ECount))
		sent, _ := s.Sent()
		warmCPU.Store(&cpuMark{at: time.Now(), cpu: cputime.Process(), events: sent, gc: readGC()})
		if h := scrape(); h != nil {
			warmStages.Store(&h)
		}
		if o.Measure != nil {
			measure.Lock()
			if !measure.ended {
				o.Measure(true)
				measure.begun = true
			}
			measure.Unlock()
		}
	})
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error {
		_, err := s.Run(gctx)
		return err
	})
	g.Go(func() error { return live(gctx, o.Out, s, mon) })
	if err := g.Wait(); err != nil && runCtx.Err() == nil {
		return nil, err
	}
	elapsed := time.Since(start)
	warm.Stop()
	sentEnd, _ := s.Sent()
	end := cpuMark{at: time.Now(), cpu: cputime.Process(), events: sentEnd, gc: readGC()}
	var endStages map[string]histogram.Histogram
	if warmStages.Load() != nil {
		endStages = scrape()
	}
	if o.Measure != nil {
		measure.Lock()
		if measure.begun {
			o.Measure(false)
		}
		measure.ended = true
		measure.Unlock()
	}
	// Let the pipeline finish what was sent, so that late decisions
	// count, then read the figures.
	drainCtx, cancelDrain := context.WithTimeout(ctx, time.Minute)
	defer cancelDrain()
	if err := p.Barrier()(drainCtx); err != nil {
		fmt.Fprintf(o.Out, "\nbench: the pipeline did not catch up: %v\n", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for want := mon.Stats(0); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // polling interval: until the monitor has read the tail
		now := mon.Stats(0)
		if now.Applied+now.Kept+now.Refused == want.Applied+want.Kept+want.Refused {
			break
		}
		want = now
	}
	fmt.Fprintln(o.Out)
	st := mon.Stats(int(skip.Load()))
	accepted, failed := s.Sent()
	res := &BenchResult{
		Rate: o.Rate, Seconds: round2(elapsed.Seconds()), Fsync: o.App.Engine.Fsync.String(),
		Events: accepted, EventsPerSec: round2(float64(accepted) / elapsed.Seconds()), Dropped: failed,
		PriceChanges: st.Applied, Decisions: st.Applied + st.Kept + st.Refused, E2ESamples: st.E2ECount,
		E2EP50: round2(st.E2EP50), E2EP99: round2(st.E2EP99), E2EP999: round2(st.E2EP999), Violations: st.Violations,
	}
	sc := s.Score()
	res.RevenueDynamic, res.RevenueStatic, res.RevenueUpliftPct = round2(sc.RevenueDynamic), round2(sc.RevenueStatic), round2(sc.UpliftPct)
	res.Orders = sc.Purchases
	if w := warmStages.Load(); w != nil && endStages != nil {
		res.Stages = stageLatencies(*w, endStages)
	}
	for _, w := range mon.Windows(int(skip.Load()), start, o.Window) {
		res.E2EWindows = append(res.E2EWindows, Window{At: round2(w.At), Changes: w.Changes, P50: round2(w.P50), P99: round2(w.P99)})
	}
	if js, err := p.Client.JobStatus(ctx, "click-features"); err == nil {
		res.Late = js.Late
	}
	if o.Server == "" {
		res.RSSMB = peakRSSMB()
		res.Procs = runtime.GOMAXPROCS(0)
		if w := warmCPU.Load(); w != nil && end.events > w.events && w.cpu > 0 {
			cpu := end.cpu - w.cpu
			res.CPUMicrosPerEvent = round2(float64(cpu.Microseconds()) / float64(end.events-w.events))
			res.CPUCores = round2(cpu.Seconds() / end.at.Sub(w.at).Seconds())
			res.GCCycles = end.gc.cycles - w.gc.cycles
			res.AllocBytesPerEvent = (end.gc.alloc - w.gc.alloc) / uint64(end.events-w.events)
			if cpu > 0 {
				res.GCCPUPct = round2(100 * (end.gc.cpu - w.gc.cpu) / cpu.Seconds())
			}
		}
	} else {
		res.RSSMB = remoteRSSMB(ctx, o.Server, o.Token)
	}
	return res, nil
}

// eventsPerView is the events the shop sends per view it simulates (the
// rate the bench asks for is in events, the shop's in views), measured on
// a dry run of the same world once its visits' later events (the cart,
// the purchase, the removal up to 20 s after the view) flow as steadily as
// its views: counted from the start, a dry run shorter than those delays
// missed them and the bench sent more events than asked (10,700 a second
// for 10,000 with the demo's shop).
func eventsPerView(cfg sim.Config) (float64, error) {
	cfg.ViewsPerSecond = 1000
	w, err := sim.NewWorld(cfg)
	if err != nil {
		return 0, err
	}
	for range 30 {
		w.Step(time.Second, nil)
	}
	from := w.Score()
	for range 30 {
		w.Step(time.Second, nil)
	}
	sc := w.Score()
	if sc.Views == from.Views {
		return 0, errors.New("bench: the catalog makes no views")
	}
	return float64(sc.Events-from.Events) / float64(sc.Views-from.Views), nil
}

// cpuMark is a point of a run: when, the process's CPU time then, the
// events sent by then and the collector's work so far.
type cpuMark struct {
	at     time.Time
	cpu    time.Duration
	events int64
	gc     gcMark
}

// gcMark is the garbage collector's work so far: its cycles completed,
// the CPU time it used, in seconds (the runtime's estimate, updated at the
// end of each cycle), and the bytes allocated on the heap (the work that
// makes the cycles: the collector runs once per heap's worth allocated).
type gcMark struct {
	cycles uint64
	cpu    float64
	alloc  uint64
}

func readGC() gcMark {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	var m gcMark
	if s[0].Value.Kind() == metrics.KindUint64 {
		m.cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		m.cpu = s[1].Value.Float64()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		m.alloc = s[2].Value.Uint64()
	}
	return m
}

// peakRSSMB is this process's peak resident set (VmHWM), in MB.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return round2(kb / 1024)
		}
	}
	return 0
}

// remoteRSSMB reads a server's resident memory from its metrics.
func remoteRSSMB(ctx context.Context, url, token string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("process_resident_memory_bytes ")); ok {
			v, _ := strconv.ParseFloat(string(rest), 64)
			return round2(v / (1 << 20))
		}
	}
	return 0
}
