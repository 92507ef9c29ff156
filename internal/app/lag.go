package app

import (
	"context"
	"fmt"
	"time"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/trigger"
)

// watchLag measures, every interval until ctx is done, how far the ETL jobs
// and triggers that read streams are behind, and reports it to the HTTP
// server, which refuses ingest into a stream whose consumers are too far
// behind (http.ingest_max_lag_records).
func (a *App) watchLag(ctx context.Context) error {
	if a.server.MaxLag() == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(a.server.LagCheckInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		lags, err := consumerLags(ctx, a.jobs, a.triggers)
		if err != nil {
			if ctx.Err() == nil {
				a.logger.Debug("consumer lag not measured", "err", err)
			}
			continue
		}
		a.server.SetLag(lags)
	}
}

// consumerLags returns the lag of the running ETL jobs and enabled
// triggers that read streams (not tables), summed over partitions.
func consumerLags(ctx context.Context, jobs *etl.Manager, triggers *trigger.Manager) ([]api.ConsumerLag, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []api.ConsumerLag
	// Only the jobs running here: Status of a job that is not running
	// restores its state from the checkpoints, too costly to poll.
	for _, name := range jobs.Running() {
		src, err := jobs.SourceStream(ctx, name)
		if err != nil || src == "" {
			continue
		}
		st, err := jobs.Status(ctx, name)
		if err != nil || st.State != etl.StateRunning {
			continue
		}
		var lag uint64
		for _, p := range st.Partitions {
			// A partition the job has taken nothing from has no position
			// yet (a job starting at the latest record would look as far
			// behind as the stream is long).
			if p.RecordsIn > 0 {
				lag += p.LagRecords
			}
		}
		out = append(out, api.ConsumerLag{Stream: src, Consumer: fmt.Sprintf("job %q", name), Records: lag})
	}
	defs, err := triggers.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		ref, err := trigger.ParseSource(d.Spec.Source)
		if err != nil || ref.Kind != "stream" || !d.Spec.IsEnabled() {
			continue
		}
		st, err := triggers.Describe(ctx, d.Spec.Name)
		if err != nil {
			continue
		}
		var lag uint64
		for _, p := range st.Partitions {
			if p.Checkpoint != nil { // as for jobs: no position, no lag
				lag += p.LagRecords
			}
		}
		out = append(out, api.ConsumerLag{Stream: ref.Name, Consumer: fmt.Sprintf("trigger %q", d.Spec.Name), Records: lag})
	}
	return out, nil
}
