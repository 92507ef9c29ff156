package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/etl"
)

func newJobCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Apply, inspect, start and stop streaming ETL jobs"}
	cmd.AddCommand(jobApplyCmd(g), jobListCmd(g), jobDescribeCmd(g), jobStartCmd(g), jobStopCmd(g), jobStatusCmd(g),
		jobDLQCmd(g), jobReplayCmd(g), jobDeleteCmd(g))
	return cmd
}

// jobFiles returns the job documents of a file, or of every .yaml, .yml
// and .json file of a directory, in name order.
func jobFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var out []string
	for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
		m, _ := filepath.Glob(filepath.Join(path, ext))
		out = append(out, m...)
	}
	slices.Sort(out)
	return out, nil
}

func jobApplyCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update jobs from YAML or JSON documents; every problem is reported with its path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := jobFiles(file)
			if err != nil {
				return err
			}
			c := g.client()
			failed := false
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				specs, err := etl.DecodeAll(b) // documents of other kinds are skipped
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", f, err)
					failed = true
					continue
				}
				for _, s := range specs {
					res, err := c.ApplyJob(cmd.Context(), s.JSON())
					if err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: job %s:\n  %s\n", f, s.Name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
						failed = true
						continue
					}
					what := "unchanged"
					switch {
					case res.Created:
						what = "created"
					case res.Changed:
						what = "updated"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "job %s %s\n", res.Name, what)
				}
			}
			if failed {
				return exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "a job document, or a directory of them")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func jobListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs with their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := g.client()
			names, err := c.ListJobs(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), names)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tRECORDS IN\tROWS WRITTEN\tDEAD LETTERS")
			for _, n := range names {
				st, err := c.JobStatus(cmd.Context(), n)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", n, st.State, st.RecordsIn, st.RowsWritten, st.DeadLettered)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func jobDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe JOB",
		Short: "Print a job's document (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.client().DescribeJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), s)
		},
	}
}

func jobStartCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "start JOB", Short: "Start a job (it resumes from its checkpoints)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().StartJob(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %s started\n", args[0])
			return nil
		},
	}
}

func jobStopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "stop JOB", Short: "Stop a job (it checkpoints first)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().StopJob(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %s stopping\n", args[0])
			return nil
		},
	}
}

func jobDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "delete JOB", Short: "Delete a job and its checkpoints", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteJob(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %s deleted\n", args[0])
			return nil
		},
	}
}

func jobStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status JOB",
		Short: "Show a job's state, counters, lag and watermark",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.client().JobStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "job %s: %s (desired %s)\n", st.Name, st.State, st.Desired)
			if st.Error != "" {
				fmt.Fprintf(w, "  error: %s\n", st.Error)
			}
			fmt.Fprintf(w, "  records in %d = processed %d + filtered %d + dead-lettered %d (late %d)\n", st.RecordsIn, st.RecordsProcessed, st.Filtered, st.DeadLettered, st.Late)
			fmt.Fprintf(w, "  rows written %d, lag %d records, watermark %s\n", st.RowsWritten, st.LagRecords, st.Watermark.Format("2006-01-02T15:04:05Z07:00"))
			for stage, s := range st.StageLatency {
				fmt.Fprintf(w, "  %s: %.1f µs/record\n", stage, s*1e6)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func jobDLQCmd(g *globals) *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "dlq JOB",
		Short: "List a job's dead letters: reason, stage, source position and the original record",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dls, err := g.client().JobDeadLetters(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), dls)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REASON\tSTAGE\tSOURCE\tPOSITION\tERROR\tDATA")
			for _, d := range dls {
				data := string(d.Data)
				if !utf8.Valid(d.Data) {
					data = "base64:" + base64.StdEncoding.EncodeToString(d.Data)
				}
				if len(data) > 120 {
					data = data[:120] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s/%d\t%s\t%s\t%s\n", d.Reason, d.Stage, d.Source, d.Partition, d.Position, d.Error, data)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func jobReplayCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "replay-dlq JOB",
		Short: "Send a job's dead letters through it again (after a fix); each is sent once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := g.client().ReplayJobDeadLetters(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "replayed %d dead letters of %s\n", n, args[0])
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 10000, "at most this many")
	return cmd
}
