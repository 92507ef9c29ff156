// Command gen records the training data of the Fast Sneakers demand
// model: it runs the pipeline with pricing off while the simulated shop
// tests random prices (see demo.Explore), and writes one JSON line per
// product and closed 100-second window. train.sh beside it runs it and
// then `pricestream train`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/demo"
	"github.com/pricestream/pricestream/internal/sim"
)

func main() {
	var (
		out      = flag.String("out", "training.jsonl", "file to write")
		seed     = flag.Uint64("seed", 7, "seed of the simulated shop (not the seeds the tests score with)")
		products = flag.Int("products", 24, "products")
		views    = flag.Float64("views-per-second", 6, "mean product views per simulated second")
		duration = flag.Duration("duration", 24*time.Hour, "simulated time to record")
		trends   = flag.Float64("trends-per-day", 12, "random demand shocks per simulated day")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := os.MkdirTemp("", "fastsneakers-gen-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := app.DefaultConfig()
	cfg.Engine.DataDir, cfg.HTTP.Addr, cfg.Log.Level = dir, "127.0.0.1:0", "warn"
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	score, err := demo.Explore(ctx, demo.ExploreOptions{
		App:      cfg,
		Sim:      sim.Config{Seed: *seed, Products: *products, ViewsPerSecond: *views, TrendsPerDay: *trends},
		Duration: *duration,
		Logger:   app.NewLogger(cfg.Log, os.Stderr),
	}, f)
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "%s: %.0f simulated seconds, %d events, %d purchases, in %s\n", *out, score.SimSeconds, score.Events, score.Purchases, time.Since(start).Round(time.Second))
}
