package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/pricestream/pricestream/internal/client"
)

// PipelineBarrier returns a Barrier that waits until the jobs have
// processed every record stored in their sources and their sinks hold the
// results (lag 0, nothing pending), and then until the triggers have
// processed every change of their sources. With it, a lockstep run sees
// the prices the pipeline sets for everything sent before, and a run is
// the same for the same seed on any machine.
func PipelineBarrier(c *client.Client, jobs, triggers []string, timeout time.Duration) func(context.Context) error {
	if timeout == 0 {
		timeout = time.Minute
	}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		poll := func(what string, done func() (bool, error)) error {
			wait := 200 * time.Microsecond
			for {
				ok, err := done()
				if err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
				if ok {
					return nil
				}
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return fmt.Errorf("%s did not catch up within %s", what, timeout)
				case <-t.C:
				}
				wait = min(2*wait, 5*time.Millisecond)
			}
		}
		for _, j := range jobs {
			err := poll("job "+j, func() (bool, error) {
				st, err := c.JobStatus(ctx, j)
				if err != nil {
					return false, err
				}
				if st.Error != "" {
					return false, fmt.Errorf("failed: %s", st.Error)
				}
				return st.LagRecords == 0 && st.RowsPending == 0, nil
			})
			if err != nil {
				return err
			}
		}
		for _, tr := range triggers {
			err := poll("trigger "+tr, func() (bool, error) {
				st, err := c.DescribeTrigger(ctx, tr)
				if err != nil {
					return false, err
				}
				for _, p := range st.Partitions {
					if p.LagRecords > 0 {
						return false, nil
					}
				}
				return len(st.Partitions) > 0, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
}
