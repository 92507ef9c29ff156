// Package demo runs the Fast Sneakers pipeline end to end in one process:
// the pricestream server with the scenario applied, the simulated shop
// sending to it over HTTP, and a monitor of the decisions. `pricestream
// demo` and `pricestream bench` are thin commands over it.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pricestream/pricestream/examples/fastsneakers"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/apply"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/sim"
)

// The scenario's pipeline, as the barrier waits for it.
var (
	pipelineJobs     = []string{"sales", "click-features"}
	pipelineTriggers = []string{"reprice"}
)

// Pipeline is a running Fast Sneakers pipeline: an embedded server (or a
// client of a running one) with the scenario applied.
type Pipeline struct {
	Client *client.Client
	URL    string
	App    *app.App // nil for a server elsewhere

	stop func() error
}

// Start starts an embedded server with cfg, waits until it is ready and
// applies the scenario: streams and tables, then the shop's catalog
// (through setup, which may be nil), then model, endpoint, jobs and the
// reprice trigger. Unless cfg names pricing features, the pricing
// function reads and records [fastsneakers.PricingFeatures] and the
// model's inputs of each features row.
func Start(ctx context.Context, cfg app.Config, logger *slog.Logger, setup func(context.Context, *client.Client) error) (*Pipeline, error) {
	if len(cfg.Pricing.Features) == 0 {
		cfg.Pricing.Features = fastsneakers.PricingFeatures
	}
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	p := &Pipeline{App: a, URL: "http://" + a.Addr(), Client: client.New("http://" + a.Addr())}
	p.stop = func() error {
		cancel()
		return <-done
	}
	if err := p.apply(ctx, logger, setup); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

// Connect applies the scenario to a running server.
func Connect(ctx context.Context, url string, c *client.Client, setup func(context.Context, *client.Client) error) (*Pipeline, error) {
	p := &Pipeline{Client: c, URL: url, stop: func() error { return nil }}
	return p, p.apply(ctx, nil, setup)
}

func (p *Pipeline) apply(ctx context.Context, logger *slog.Logger, setup func(context.Context, *client.Client) error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := p.Client.Ready(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("demo: server not ready: %w", err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	docs, err := fastsneakers.Documents()
	if err != nil {
		return err
	}
	storage := func(d apply.Document) bool { return d.Kind == "stream" || d.Kind == "table" }
	var out bytes.Buffer
	if err := apply.Apply(ctx, p.Client, slices.DeleteFunc(slices.Clone(docs), func(d apply.Document) bool { return !storage(d) }), &out); err != nil {
		return fmt.Errorf("demo: apply streams and tables: %w", err)
	}
	for line := range strings.Lines(out.String()) {
		if logger != nil && strings.Contains(line, "differs from the file") {
			// A data directory made by an earlier version of the
			// scenario: say what it keeps.
			logger.Warn("demo: " + strings.TrimSpace(line))
		}
	}
	if setup != nil {
		if err := setup(ctx, p.Client); err != nil {
			return err
		}
	}
	if err := apply.Apply(ctx, p.Client, slices.DeleteFunc(docs, storage), io.Discard); err != nil {
		return fmt.Errorf("demo: apply the pipeline: %w", err)
	}
	return nil
}

// Barrier returns the lockstep barrier of the scenario's pipeline.
func (p *Pipeline) Barrier() func(context.Context) error {
	return sim.PipelineBarrier(p.Client, pipelineJobs, pipelineTriggers, 2*time.Minute)
}

// Stop stops an embedded server (its engine flushed and closed).
func (p *Pipeline) Stop() error {
	if p.stop == nil {
		return nil
	}
	err := p.stop()
	p.stop = nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// StartAfter returns a simulated start time for a run on a pipeline that
// may hold an earlier run: after the newest event time the click-features
// job has seen (so that no event of the new run is late), and not before
// now.
func StartAfter(ctx context.Context, c *client.Client) time.Time {
	start := time.Now().UTC().Truncate(time.Second)
	if st, err := c.JobStatus(ctx, "click-features"); err == nil && st.Watermark.After(start.Add(-time.Hour)) {
		if after := st.Watermark.Add(10 * time.Minute).Truncate(time.Second); after.After(start) {
			start = after
		}
	}
	return start
}
