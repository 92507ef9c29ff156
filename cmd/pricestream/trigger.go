package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/trigger"
)

func newTriggerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "trigger", Short: "Run functions on the records of streams and the changes of tables"}
	cmd.AddCommand(triggerApplyCmd(g), triggerCreateCmd(g), triggerListCmd(g), triggerDescribeCmd(g),
		triggerEnableCmd(g, true), triggerEnableCmd(g, false), triggerDeleteCmd(g))
	return cmd
}

// specFiles returns the trigger files a -f argument names: the file, or
// the .yaml, .yml and .json files of a directory.
func specFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				out = append(out, filepath.Join(path, e.Name()))
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml, .yml or .json file", path)
	}
	return out, nil
}

func triggerApplyCmd(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update triggers from YAML or JSON files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("give the files with -f FILE or -f DIR")
			}
			// Read and check everything first, so that nothing is applied
			// when any file is wrong, and every problem shows at once.
			var specs []*trigger.Spec
			var errs []error
			for _, f := range files {
				paths, err := specFiles(f)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, p := range paths {
					b, err := os.ReadFile(p)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					s, err := trigger.ParseSpecs(b)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", p, err))
						continue
					}
					specs = append(specs, s...)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			c := g.client()
			for _, s := range specs {
				res, err := c.ApplyTrigger(cmd.Context(), s)
				if err != nil {
					return fmt.Errorf("trigger %s: %w", s.Name, err)
				}
				verb := "updated"
				if res.Created {
					verb = "created"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s trigger %s: %s -> %s\n", verb, s.Name, s.Source, s.Function)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "file", "f", nil, "trigger file, or directory of them (YAML or JSON; repeatable)")
	return cmd
}

func triggerCreateCmd(g *globals) *cobra.Command {
	var (
		spec              trigger.Spec
		window, timeout   time.Duration
		retries           int
		filters           []string
		disabled, asJSON  bool
		maxAge            time.Duration
		bisect, partial   bool
		startingTimestamp string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --source table:T|stream:S --function go:NAME|http:URL|wasm:FILE",
		Short: "Create a trigger from flags",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			spec.BatchingWindow = trigger.Duration(window)
			spec.FunctionTimeout = trigger.Duration(timeout)
			spec.MaxRecordAge = trigger.Duration(maxAge)
			spec.BisectBatchOnError, spec.ReportBatchItemFailures = bisect, partial
			if cmd.Flags().Changed("max-retry-attempts") {
				spec.MaxRetryAttempts = &retries
			}
			if disabled {
				f := false
				spec.Enabled = &f
			}
			if startingTimestamp != "" {
				t, err := time.Parse(time.RFC3339Nano, startingTimestamp)
				if err != nil {
					return fmt.Errorf("--starting-position-timestamp: %w", err)
				}
				spec.StartingPositionTimestamp = &t
			}
			for _, f := range filters {
				spec.Filters = append(spec.Filters, trigger.Filter{Pattern: []byte(f)})
			}
			if err := spec.Validate(); err != nil {
				return err
			}
			d, err := g.client().CreateTrigger(cmd.Context(), &spec)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), d)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created trigger %s: %s -> %s, batches of up to %d\n", d.Spec.Name, d.Spec.Source, d.Spec.Function, d.Spec.BatchSize)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&spec.Source, "source", "", "stream:NAME or table:NAME")
	fl.StringVar(&spec.Function, "function", "", "go:NAME, http:URL or wasm:FILE")
	fl.IntVar(&spec.BatchSize, "batch-size", 0, "most records per invocation, 1-10000 (default 100)")
	fl.DurationVar(&window, "batching-window", 0, "how long to gather records before invoking, up to 5m (default 0: at once)")
	fl.StringVar(&spec.StartingPosition, "starting-position", "", "trim_horizon (default), latest or at_timestamp")
	fl.StringVar(&startingTimestamp, "starting-position-timestamp", "", "RFC 3339 time for at_timestamp")
	fl.IntVar(&spec.Parallelism, "parallelism", 0, "concurrent invocations per partition, 1-10, order kept per key (default 1)")
	fl.IntVar(&retries, "max-retry-attempts", trigger.DefaultMaxRetryAttempts, "retries of a failed invocation before its records go to the destination")
	fl.DurationVar(&maxAge, "max-record-age", 0, "send older records to the destination instead (default: no limit)")
	fl.DurationVar(&timeout, "function-timeout", 0, "bound on one invocation (default 30s)")
	fl.BoolVar(&bisect, "bisect-batch-on-error", false, "split a failed batch in two to isolate the failing record")
	fl.BoolVar(&partial, "report-batch-item-failures", false, "honour the function's partial-batch responses")
	fl.StringVar(&spec.Destination, "destination", "", "stream that receives the records that failed past the retries")
	fl.StringArrayVar(&filters, "filter", nil, `filter pattern in JSON, e.g. '{"data":{"event_type":["purchase"]}}' (repeatable, up to 5)`)
	fl.StringVar(&spec.Description, "description", "", "what the trigger is for")
	fl.BoolVar(&disabled, "disabled", false, "create it disabled")
	fl.BoolVar(&asJSON, "json", false, "print the definition as JSON")
	return cmd
}

func triggerListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List triggers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defs, err := g.client().ListTriggers(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), defs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSOURCE\tFUNCTION\tBATCH\tPARALLELISM\tENABLED\tUPDATED")
			for _, d := range defs {
				s := d.Spec
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%t\t%s\n", s.Name, s.Source, s.Function, s.BatchSize, s.Parallelism, s.IsEnabled(), d.Updated.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func triggerDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a trigger's definition, state, and per partition its checkpoint, lag and counters (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.client().DescribeTrigger(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), st)
		},
	}
}

func triggerEnableCmd(g *globals, enable bool) *cobra.Command {
	use, short := "enable NAME", "Enable a trigger: it resumes from its checkpoints"
	if !enable {
		use, short = "disable NAME", "Disable a trigger: it stops and keeps its checkpoints"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			var err error
			if enable {
				_, err = c.EnableTrigger(cmd.Context(), args[0])
			} else {
				_, err = c.DisableTrigger(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%sd trigger %s\n", strings.Fields(use)[0], args[0])
			return nil
		},
	}
}

func triggerDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a trigger and its checkpoints",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteTrigger(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted trigger %s\n", args[0])
			return nil
		},
	}
}
