package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
)

func newStreamCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "stream", Short: "Create, inspect, write and read data streams"}
	cmd.AddCommand(streamCreateCmd(g), streamListCmd(g), streamDescribeCmd(g), streamDeleteCmd(g), streamPutCmd(g), streamTailCmd(g))
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func streamCreateCmd(g *globals) *cobra.Command {
	var spec api.StreamSpec
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a stream",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			info, err := g.client().CreateStream(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created stream %s: %d partitions, retention %s, max record size %d bytes\n", info.Name, len(info.Partitions), info.Retention, info.MaxRecordSize)
			return nil
		},
	}
	cmd.Flags().IntVar(&spec.Partitions, "partitions", 0, "number of partitions (default 4)")
	cmd.Flags().StringVar(&spec.Retention, "retention", "", "how long records are kept (default 24h)")
	cmd.Flags().IntVar(&spec.MaxRecordSize, "max-record-size", 0, "largest record in bytes (default 1 MiB)")
	cmd.Flags().StringVar(&spec.Description, "description", "", "what the stream holds")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the stream as JSON")
	return cmd
}

func streamListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List streams",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := g.client().ListStreams(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPARTITIONS\tRETENTION\tBATCHES\tBYTES")
			for _, i := range infos {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\n", i.Name, len(i.Partitions), i.Retention, i.Batches, i.Bytes)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func streamDescribeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Describe a stream (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := g.client().DescribeStream(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), info)
		},
	}
	return cmd
}

func streamDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a stream and its records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteStream(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted stream %s\n", args[0])
			return nil
		},
	}
}

type putOptions struct {
	file        string
	format      string
	keyField    string
	concurrency int
	batch       int
	retries     int
	progress    string
}

func streamPutCmd(g *globals) *cobra.Command {
	var o putOptions
	cmd := &cobra.Command{
		Use:   "put STREAM",
		Short: "Put records from JSON lines or CSV (a file or stdin)",
		Long: `Put reads JSON lines or CSV with a header from --file (or stdin) and puts
each record to the stream, taking its partition key from --partition-key.
CSV rows become JSON objects: empty fields are null, numbers stay numbers
(as written, so large ids stay exact), everything else is a string.
Records of one partition key keep their order.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPut(cmd.Context(), g.client(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&o.file, "file", "f", "-", "input file, - for stdin")
	cmd.Flags().StringVar(&o.format, "format", "auto", "jsonl, csv or auto")
	cmd.Flags().StringVar(&o.keyField, "partition-key", "", "field holding each record's partition key (default: the line number)")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", 4, "requests in flight")
	cmd.Flags().IntVar(&o.batch, "batch", 500, "records per request (1-500)")
	cmd.Flags().IntVar(&o.retries, "retries", 5, "times to resend records the server throttled or could not store")
	cmd.Flags().StringVar(&o.progress, "progress", "auto", "show a progress bar: auto (on a terminal), always or never")
	return cmd
}

// putStats counts the outcome of a put command.
type putStats struct {
	sent, stored, failed, rejected atomic.Int64
}

func runPut(ctx context.Context, c *client.Client, stream string, o putOptions, stdout, stderr io.Writer) error {
	if o.batch < 1 || o.batch > 500 {
		return fmt.Errorf("--batch must be 1-500")
	}
	if o.concurrency < 1 {
		return fmt.Errorf("--concurrency must be >= 1")
	}
	if _, err := c.DescribeStream(ctx, stream); err != nil {
		return err
	}
	in := io.Reader(os.Stdin)
	var size int64 = -1
	if o.file != "-" {
		f, err := os.Open(o.file)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	show := o.progress == "always" || (o.progress == "auto" && isTerminal(stderr))
	var bar *progressbar.ProgressBar
	if show {
		bar = progressbar.NewOptions64(size, progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("putting "+stream), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		r := progressbar.NewReader(in, bar)
		in = &r
	}
	rr, err := newRowReader(in, o.format, o.keyField)
	if err != nil {
		return err
	}
	start := time.Now()
	var st putStats
	lanes := make([]chan []*row, o.concurrency)
	var wg sync.WaitGroup
	errc := make(chan error, o.concurrency)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range lanes {
		lanes[i] = make(chan []*row, 2)
		wg.Go(func() {
			for batch := range lanes[i] {
				if err := putBatch(lctx, c, stream, batch, o.retries, &st); err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
					for range lanes[i] {
					}
					return
				}
			}
		})
	}
	// Records of one key go to one lane, so they stay in order.
	pending := make([][]*row, o.concurrency)
	var readErr error
	var bad []string
	for {
		r, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *rowError
		if errors.As(err, &re) {
			st.rejected.Add(1)
			if len(bad) < 10 {
				bad = append(bad, re.Error())
			}
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		h := fnv.New32a()
		h.Write([]byte(r.key))
		lane := int(h.Sum32() % uint32(o.concurrency))
		pending[lane] = append(pending[lane], r)
		if len(pending[lane]) == o.batch || batchBytes(pending[lane]) > 4<<20 {
			select {
			case lanes[lane] <- pending[lane]:
			case <-lctx.Done():
			}
			pending[lane] = nil
		}
		if lctx.Err() != nil {
			break
		}
	}
	for i, p := range pending {
		if len(p) > 0 && lctx.Err() == nil {
			lanes[i] <- p
		}
		close(lanes[i])
	}
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	elapsed := time.Since(start)
	for _, b := range bad {
		fmt.Fprintln(stderr, "rejected:", b)
	}
	stored := st.stored.Load()
	fmt.Fprintf(stdout, "put %d records to %s in %s (%.0f records/s); %d failed, %d input rows rejected\n",
		stored, stream, elapsed.Round(time.Millisecond), float64(stored)/elapsed.Seconds(), st.failed.Load(), st.rejected.Load())
	select {
	case err := <-errc:
		return err
	default:
	}
	if readErr != nil {
		return readErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if st.failed.Load() > 0 || st.rejected.Load() > 0 {
		return exitError{code: 2}
	}
	return nil
}

func batchBytes(rows []*row) int {
	n := 0
	for _, r := range rows {
		n += len(r.data) + len(r.key) + 40
	}
	return n
}

// putBatch puts rows, resending the records the server throttled or could
// not store, with backoff.
func putBatch(ctx context.Context, c *client.Client, stream string, rows []*row, retries int, st *putStats) error {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		recs := make([]api.PutRecord, len(rows))
		for i, r := range rows {
			recs[i] = api.PutRecord{PartitionKey: r.key, Data: r.data}
		}
		st.sent.Add(int64(len(rows)))
		res, err := c.PutRecords(ctx, stream, recs)
		var retry []*row
		if err != nil {
			if !(client.IsCode(err, "throttled") || client.IsCode(err, "unavailable")) || attempt >= retries {
				return err
			}
			retry = rows
		} else {
			for i, r := range res.Records {
				if r.ErrorCode == "" {
					st.stored.Add(1)
				} else {
					retry = append(retry, rows[i])
				}
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if attempt >= retries {
			st.failed.Add(int64(len(retry)))
			return nil
		}
		rows = retry
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func streamTailCmd(g *globals) *cobra.Command {
	var (
		from      string
		partition int
		limit     int
		dataOnly  bool
	)
	cmd := &cobra.Command{
		Use:   "tail STREAM",
		Short: "Follow a stream, printing records as JSON lines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			n := 0
			enc := json.NewEncoder(out)
			return g.client().Tail(cmd.Context(), args[0], from, partition, func(r *client.Record) error {
				var err error
				if dataOnly {
					if r.Data != nil {
						_, err = fmt.Fprintf(out, "%s\n", r.Data)
					} else {
						err = enc.Encode(r.DataBase64)
					}
				} else {
					err = enc.Encode(r)
				}
				if err != nil {
					return err
				}
				n++
				if limit > 0 && n >= limit {
					return io.EOF
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "latest", "where to start: latest, trim_horizon, at:SEQ, after:SEQ or time:RFC3339")
	cmd.Flags().IntVar(&partition, "partition", -1, "follow only this partition (default all)")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many records")
	cmd.Flags().BoolVar(&dataOnly, "data", false, "print only each record's data")
	return cmd
}
