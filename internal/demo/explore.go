package demo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pricestream/pricestream/examples/fastsneakers"
	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/sim"
)

// The training job: click-features with final rows only, to a stream
// (a table sink keeps only each product's newest row).
const (
	trainingJob    = "click-features-final"
	trainingStream = "features_final"
)

// ExploreOptions configure a run that records training data.
type ExploreOptions struct {
	App app.Config
	Sim sim.Config
	// Duration is the simulated time to record. Default 24h.
	Duration time.Duration
	// Every is how often the shop sets new random prices (aligned to the
	// 100-second windows). Default 5m.
	Every  time.Duration
	Logger *slog.Logger
	// Progress, when set, receives a line per simulated hour.
	Progress io.Writer
}

// Explore runs the pipeline with pricing off while the simulated shop
// tests random prices within each product's bounds (an A/B price test),
// and writes one JSON line per product and closed 100-second window with
// at least MinTrainingViews views: the features the pricing function reads
// and the window's purchases and conversion, which is what `pricestream
// train` fits the demand model on. It writes them when the run ends, by
// window start and then product id: the job closes the windows of its
// source partitions concurrently, and the trainer's model depends on the
// order of its rows, so that the same configuration makes the same file
// (and model) on any machine.
func Explore(ctx context.Context, o ExploreOptions, out io.Writer) (sim.Score, error) {
	if o.Duration == 0 {
		o.Duration = 24 * time.Hour
	}
	if o.Every == 0 {
		o.Every = 5 * time.Minute
	}
	var s *sim.Simulator
	var barrier func(context.Context) error
	setup := func(ctx context.Context, c *client.Client) error {
		if _, err := c.SetKillSwitch(ctx, true, "exploring prices for training data"); err != nil {
			return err
		}
		if _, err := c.CreateStream(ctx, api.StreamSpec{Name: trainingStream, Partitions: 1}); err != nil && !client.IsCode(err, "already_exists") {
			return err
		}
		var err error
		s, err = sim.New(sim.Options{Config: o.Sim, Client: c, Step: 10 * time.Second, Duration: o.Duration, Explore: o.Every,
			Barrier: func(ctx context.Context) error { return barrier(ctx) }, Logger: o.Logger})
		if err != nil {
			return err
		}
		return s.Setup(ctx)
	}
	p, err := Start(ctx, o.App, o.Logger, setup)
	if err != nil {
		return sim.Score{}, err
	}
	defer p.Stop()
	if err := applyTrainingJob(ctx, p.Client); err != nil {
		return sim.Score{}, err
	}
	jobs := append([]string{trainingJob}, pipelineJobs...)
	barrier = sim.PipelineBarrier(p.Client, jobs, pipelineTriggers, 2*time.Minute)

	// Follow the training stream while the shop runs.
	tailCtx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	rows := make(chan error, 1)
	var kept []map[string]any // the tail's until it ends, then ours
	var n atomic.Int64        // rows read from the training stream
	go func() {
		rows <- p.Client.Tail(tailCtx, trainingStream, "trim_horizon", -1, func(r *client.Record) error {
			var row map[string]any
			if err := json.Unmarshal(r.Data, &row); err != nil {
				return err
			}
			n.Add(1)
			if views, _ := row["views"].(float64); views < MinTrainingViews {
				return nil
			}
			kept = append(kept, trainingRow(row))
			return nil
		})
	}()
	score, err := s.Run(ctx)
	if err != nil {
		return score, err
	}
	// The last windows close only when later events pass them; what is
	// stored is complete. Wait for the tail to catch up, then stop.
	if err := barrier(ctx); err != nil {
		return score, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := p.Client.JobStatus(ctx, trainingJob)
		if err == nil && int64(st.RowsWritten) <= n.Load() {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	stopTail()
	if err := <-rows; err != nil && !errors.Is(err, context.Canceled) {
		return score, err
	}
	slices.SortStableFunc(kept, func(a, b map[string]any) int {
		return cmp.Or(cmp.Compare(rowText(a, "window_start"), rowText(b, "window_start")), cmp.Compare(rowText(a, "product_id"), rowText(b, "product_id")))
	})
	enc := json.NewEncoder(out)
	for _, row := range kept {
		if err := enc.Encode(row); err != nil {
			return score, err
		}
	}
	return score, nil
}

// rowText returns a row's text column k ("" when it has none): window
// starts are RFC 3339 times in UTC, which order as text as they do as
// times.
func rowText(row map[string]any, k string) string {
	s, _ := row[k].(string)
	return s
}

// MinTrainingViews is the fewest views a window needs to be a training
// row: the conversion of a window with a handful of views is mostly noise.
const MinTrainingViews = 10

// trainingRow keeps the columns a demand model may use, and the labels
// (purchases, and conversion: purchases per view).
func trainingRow(row map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"product_id", "window_start", "view_rate", "trend_now", "trend", "price_ratio", "price", "base_price", "views", "views_5m", "views_1h", "inventory", "add_to_carts", "purchases", "conversion", "revenue"} {
		if v, ok := row[k]; ok {
			out[k] = v
		}
	}
	return out
}

// applyTrainingJob applies click-features again as the training job:
// final rows only, to the training stream.
func applyTrainingJob(ctx context.Context, c *client.Client) error {
	jobs, err := fastsneakers.Jobs()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Name != "click-features" {
			continue
		}
		j.Name = trainingJob
		j.Window.Emit = "final"
		j.Sink.Table, j.Sink.Stream, j.Sink.PartitionKey = "", trainingStream, "product_id"
		j.DeadLetter = "clicks_dlq"
		doc, err := json.Marshal(j)
		if err != nil {
			return err
		}
		_, err = c.ApplyJob(ctx, doc)
		return err
	}
	return fmt.Errorf("demo: no click-features job in the scenario")
}
