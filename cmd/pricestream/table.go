package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
)

func newTableCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "table", Short: "Create, inspect, write, read and follow tables"}
	cmd.AddCommand(tableCreateCmd(g), tableListCmd(g), tableDescribeCmd(g), tableDeleteCmd(g), tablePutCmd(g), tableGetCmd(g),
		tableQueryCmd(g), tableScanCmd(g), tableLoadCmd(g), tableChangesCmd(g))
	return cmd
}

// parseKeyFlag reads NAME:TYPE (TYPE S, N or B; default S).
func parseKeyFlag(s string) (api.KeyAttr, error) {
	name, typ, ok := strings.Cut(s, ":")
	if !ok {
		typ = "S"
	}
	if name == "" {
		return api.KeyAttr{}, fmt.Errorf("key %q: want NAME or NAME:TYPE with TYPE S, N or B", s)
	}
	return api.KeyAttr{Name: name, Type: strings.ToUpper(typ)}, nil
}

func tableCreateCmd(g *globals) *cobra.Command {
	var pk, sk, view, retention, history, ttl, writes string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create NAME --partition-key NAME[:TYPE]",
		Short: "Create a table",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := api.TableSpec{Name: args[0], StreamView: view, ChangeRetention: retention, ChangeHistory: history, TTLAttribute: ttl, Writes: writes}
			var err error
			if spec.PartitionKey, err = parseKeyFlag(pk); err != nil {
				return err
			}
			if sk != "" {
				k, err := parseKeyFlag(sk)
				if err != nil {
					return err
				}
				spec.SortKey = &k
			}
			info, err := g.client().CreateTable(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created table %s: key %s, change stream %s, change retention %s, change history %s", info.Name, keyText(info), info.StreamView, info.ChangeRetention, info.ChangeHistory)
			if info.TTLAttribute != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ", ttl attribute %s", info.TTLAttribute)
			}
			if info.Writes == "batched" {
				fmt.Fprint(cmd.OutOrStdout(), ", batched writes")
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&pk, "partition-key", "", "partition key attribute, NAME or NAME:TYPE (S, N or B; default S)")
	cmd.Flags().StringVar(&sk, "sort-key", "", "optional sort key attribute, NAME or NAME:TYPE")
	cmd.Flags().StringVar(&ttl, "ttl-attribute", "", "attribute whose time (seconds since the Unix epoch) expires an item, as DynamoDB's Time to Live (default none)")
	cmd.Flags().StringVar(&view, "stream-view", "", "images in the change stream: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES (default) or NONE")
	cmd.Flags().StringVar(&retention, "change-retention", "", "how long change history is kept (default 24h)")
	cmd.Flags().StringVar(&history, "change-history", "", "which versions the change stream keeps: all (default: every change for the retention) or latest (each item's newest only)")
	cmd.Flags().StringVar(&writes, "writes", "", "how writes are stored: item (default: one engine message each) or batched (writes made at once share messages; only unconditional puts and deletes)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the table as JSON")
	_ = cmd.MarkFlagRequired("partition-key")
	return cmd
}

func keyText(i *api.TableInfo) string {
	s := i.PartitionKey.Name + ":" + i.PartitionKey.Type
	if i.SortKey != nil {
		s += ", " + i.SortKey.Name + ":" + i.SortKey.Type
	}
	return s
}

func tableListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := g.client().ListTables(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKEY\tSTREAM VIEW\tCHANGE RETENTION\tCHANGE HISTORY")
			for i := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", infos[i].Name, keyText(&infos[i]), infos[i].StreamView, infos[i].ChangeRetention, infos[i].ChangeHistory)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func tableDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Describe a table (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := g.client().DescribeTable(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), info)
		},
	}
}

func tableDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a table with its items and change history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteTable(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted table %s\n", args[0])
			return nil
		},
	}
}

// exprFlags are the expression flags of put, query and scan.
type exprFlags struct {
	condition, filter, projection, names, values string
}

func (f *exprFlags) register(cmd *cobra.Command, condition bool) {
	if condition {
		cmd.Flags().StringVar(&f.condition, "condition", "", "ConditionExpression")
	} else {
		cmd.Flags().StringVar(&f.filter, "filter", "", "FilterExpression")
		cmd.Flags().StringVar(&f.projection, "projection", "", "ProjectionExpression")
	}
	cmd.Flags().StringVar(&f.names, "names", "", `ExpressionAttributeNames as JSON, e.g. '{"#s":"status"}'`)
	cmd.Flags().StringVar(&f.values, "values", "", `ExpressionAttributeValues as plain JSON, e.g. '{":p":129.99}'`)
}

func (f *exprFlags) parse() (map[string]string, json.RawMessage, error) {
	var names map[string]string
	if f.names != "" {
		if err := json.Unmarshal([]byte(f.names), &names); err != nil {
			return nil, nil, fmt.Errorf("--names: %w", err)
		}
	}
	var values json.RawMessage
	if f.values != "" {
		if !json.Valid([]byte(f.values)) {
			return nil, nil, errors.New("--values: not valid JSON")
		}
		values = json.RawMessage(f.values)
	}
	return names, values, nil
}

func tablePutCmd(g *globals) *cobra.Command {
	var f exprFlags
	cmd := &cobra.Command{
		Use:   "put TABLE ITEM_JSON",
		Short: "Put one item (plain JSON; numbers stay exact)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			names, values, err := f.parse()
			if err != nil {
				return err
			}
			res, err := g.client().PutItem(cmd.Context(), args[0], api.ItemRequest{Item: json.RawMessage(args[1]), Condition: f.condition, Names: names, Values: values})
			if err != nil {
				return err
			}
			if res.Written != nil && !*res.Written {
				fmt.Fprintln(cmd.OutOrStdout(), "unchanged")
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

func tableGetCmd(g *globals) *cobra.Command {
	var consistent bool
	cmd := &cobra.Command{
		Use:   "get TABLE PARTITION_KEY [SORT_KEY]",
		Short: "Print one item as JSON",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			it, err := g.client().GetItem(cmd.Context(), args[0], consistent, args[1:]...)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", it)
			return err
		},
	}
	cmd.Flags().BoolVar(&consistent, "consistent", false, "read the item's last version from the engine")
	return cmd
}

// readAll prints every item of a query or scan as JSON lines, page by
// page, up to limit items (0: all).
func readPages(ctx context.Context, out io.Writer, limit int, read func(api.ReadRequest) (*api.PageResponse, error), req api.ReadRequest) error {
	n := 0
	for {
		if limit > 0 {
			req.Limit = min(1000, limit-n)
		}
		p, err := read(req)
		if err != nil {
			return err
		}
		for _, it := range p.Items {
			if _, err := fmt.Fprintf(out, "%s\n", it); err != nil {
				return err
			}
			n++
		}
		if len(p.LastKey) == 0 || (limit > 0 && n >= limit) || ctx.Err() != nil {
			return ctx.Err()
		}
		req.StartKey = p.LastKey
	}
}

func tableQueryCmd(g *globals) *cobra.Command {
	var f exprFlags
	var key string
	var limit int
	var backward, consistent bool
	cmd := &cobra.Command{
		Use:   "query TABLE --key-condition EXPR --values JSON",
		Short: "Print the items of one partition key as JSON lines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			names, values, err := f.parse()
			if err != nil {
				return err
			}
			fwd := !backward
			req := api.ReadRequest{KeyCondition: key, Filter: f.filter, Projection: f.projection, Names: names, Values: values, Forward: &fwd, Consistent: consistent}
			c := g.client()
			return readPages(cmd.Context(), cmd.OutOrStdout(), limit, func(r api.ReadRequest) (*api.PageResponse, error) { return c.Query(cmd.Context(), args[0], r) }, req)
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&key, "key-condition", "", "KeyConditionExpression, e.g. 'customer = :c AND created_at > :t'")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many items")
	cmd.Flags().BoolVar(&backward, "backward", false, "descending sort key order")
	cmd.Flags().BoolVar(&consistent, "consistent", false, "see every write stored before the query")
	_ = cmd.MarkFlagRequired("key-condition")
	return cmd
}

func tableScanCmd(g *globals) *cobra.Command {
	var f exprFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "scan TABLE",
		Short: "Print a table's items as JSON lines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			names, values, err := f.parse()
			if err != nil {
				return err
			}
			req := api.ReadRequest{Filter: f.filter, Projection: f.projection, Names: names, Values: values}
			c := g.client()
			return readPages(cmd.Context(), cmd.OutOrStdout(), limit, func(r api.ReadRequest) (*api.PageResponse, error) { return c.Scan(cmd.Context(), args[0], r) }, req)
		},
	}
	f.register(cmd, false)
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many items")
	return cmd
}

func tableChangesCmd(g *globals) *cobra.Command {
	var from string
	var limit int
	var follow bool
	var attrs []string
	cmd := &cobra.Command{
		Use:   "changes TABLE",
		Short: "Print a table's changes as JSON lines (--follow to wait for new ones)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			enc := json.NewEncoder(cmd.OutOrStdout())
			n := 0
			if follow {
				return c.TailChanges(cmd.Context(), args[0], from, func(ch *api.ChangeJSON) error {
					if err := enc.Encode(ch); err != nil {
						return err
					}
					n++
					if limit > 0 && n >= limit {
						return io.EOF
					}
					return nil
				}, attrs...)
			}
			start := from
			for {
				res, err := c.Changes(cmd.Context(), args[0], start, 1000, attrs...)
				if err != nil {
					return err
				}
				for i := range res.Changes {
					if err := enc.Encode(&res.Changes[i]); err != nil {
						return err
					}
					n++
					if limit > 0 && n >= limit {
						return nil
					}
				}
				if len(res.Changes) == 0 {
					return nil
				}
				start = res.Next
			}
		},
	}
	cmd.Flags().StringVar(&from, "from", "trim_horizon", "where to start: trim_horizon, latest, at:SEQ or after:SEQ")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many changes")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep waiting for new changes (default start: as --from)")
	cmd.Flags().StringSliceVar(&attrs, "attributes", nil, "keep only these top-level attributes of each change's images (comma-separated)")
	return cmd
}

type loadOptions struct {
	file        string
	format      string
	concurrency int
	progress    string
}

func tableLoadCmd(g *globals) *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load TABLE",
		Short: "Bulk-load items from JSON lines or CSV (a file or stdin)",
		Long: `Load reads JSON lines or CSV with a header from --file (or stdin) and puts
each row as an item, 25 to a request. CSV rows become items: empty fields are
left out, numbers stay numbers (as written), anything else is a string; key
columns take the table's key types. A row the table refuses (a missing key,
an oversized item) is reported with its line and skipped; the command ends
with a summary and exits with status 2 when any row was rejected.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLoad(cmd.Context(), g.client(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&o.file, "file", "f", "-", "input file, - for stdin")
	cmd.Flags().StringVar(&o.format, "format", "auto", "jsonl, csv or auto")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", 8, "requests in flight")
	cmd.Flags().StringVar(&o.progress, "progress", "auto", "show a progress bar: auto (on a terminal), always or never")
	return cmd
}

// fixRow makes a row an item of the table: key columns take the key's type
// (CSV ids read as numbers become strings for an S key, and the other way
// round), and nulls are left out (DynamoDB has NULL, but an empty CSV field
// means "no value").
func fixRow(data []byte, keys map[string]string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		if string(v) == "null" {
			delete(m, k)
		}
	}
	for name, typ := range keys {
		v, ok := m[name]
		if !ok {
			continue
		}
		switch {
		case typ == "S" && len(v) > 0 && v[0] != '"':
			b, _ := json.Marshal(string(v))
			m[name] = b
		case typ == "N" && len(v) > 0 && v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil && isJSONNumber(s) {
				m[name] = json.RawMessage(s)
			}
		}
	}
	return json.Marshal(m)
}

type loadStats struct {
	loaded, rejected atomic.Int64
	mu               sync.Mutex
	reasons          []string
}

func (s *loadStats) reject(msg string) {
	s.rejected.Add(1)
	s.mu.Lock()
	if len(s.reasons) < 20 {
		s.reasons = append(s.reasons, msg)
	}
	s.mu.Unlock()
}

func runLoad(ctx context.Context, c *client.Client, tableName string, o loadOptions, stdout, stderr io.Writer) error {
	if o.concurrency < 1 {
		return errors.New("--concurrency must be >= 1")
	}
	info, err := c.DescribeTable(ctx, tableName)
	if err != nil {
		return err
	}
	keys := map[string]string{info.PartitionKey.Name: info.PartitionKey.Type}
	if info.SortKey != nil {
		keys[info.SortKey.Name] = info.SortKey.Type
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
			progressbar.OptionSetDescription("loading "+tableName), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		r := progressbar.NewReader(in, bar)
		in = &r
	}
	rr, err := newRowReader(in, o.format, "")
	if err != nil {
		return err
	}
	start := time.Now()
	var st loadStats
	batches := make(chan []*row, o.concurrency)
	errc := make(chan error, 1)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for b := range batches {
				if err := loadBatch(lctx, c, tableName, b, &st); err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
				}
			}
		})
	}
	var batch []*row
	seen := map[string]bool{} // keys in the current batch (a batch may not repeat one)
	flush := func() {
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-lctx.Done():
			}
		}
		batch, seen = nil, map[string]bool{}
	}
	var readErr error
	for lctx.Err() == nil {
		r, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *rowError
		if errors.As(err, &re) {
			st.reject(re.Error())
			continue
		}
		if err != nil {
			readErr = err
			break
		}
		if r.data, err = fixRow(r.data, keys); err != nil {
			st.reject(fmt.Sprintf("line %d: %v", r.line, err))
			continue
		}
		k := keyOf(r.data, keys)
		if seen[k] {
			flush()
		}
		seen[k] = true
		batch = append(batch, r)
		if len(batch) == 25 {
			flush()
		}
	}
	flush()
	close(batches)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	elapsed := time.Since(start)
	for _, r := range st.reasons {
		fmt.Fprintln(stderr, "rejected:", r)
	}
	loaded := st.loaded.Load()
	fmt.Fprintf(stdout, "loaded %d items into %s in %s (%.0f items/s); %d rows rejected\n",
		loaded, tableName, elapsed.Round(time.Millisecond), float64(loaded)/elapsed.Seconds(), st.rejected.Load())
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
	if st.rejected.Load() > 0 {
		return exitError{code: 2}
	}
	return nil
}

func keyOf(data []byte, keys map[string]string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	var b bytes.Buffer
	for name := range keys {
		b.WriteString(name)
		b.WriteByte(0)
		b.Write(m[name])
		b.WriteByte(0)
	}
	return b.String()
}

// loadBatch writes rows with one batch request; when the table refuses the
// batch, it puts the rows one at a time to find and report the bad ones.
func loadBatch(ctx context.Context, c *client.Client, tableName string, rows []*row, st *loadStats) error {
	req := api.BatchRequest{Puts: make([]json.RawMessage, len(rows))}
	for i, r := range rows {
		req.Puts[i] = r.data
	}
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		_, err := c.BatchWrite(ctx, tableName, req)
		if err == nil {
			st.loaded.Add(int64(len(rows)))
			return nil
		}
		if client.IsCode(err, "invalid_argument") || client.IsCode(err, "malformed_request") {
			break
		}
		if !(client.IsCode(err, "unavailable") || client.IsCode(err, "conflict") || client.IsCode(err, "throttled")) || attempt >= 5 {
			return err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff *= 2
	}
	for _, r := range rows {
		_, err := c.PutItem(ctx, tableName, api.ItemRequest{Item: r.data})
		switch {
		case err == nil:
			st.loaded.Add(1)
		case client.IsCode(err, "invalid_argument") || client.IsCode(err, "malformed_request"):
			var ce *client.Error
			errors.As(err, &ce)
			st.reject(fmt.Sprintf("line %d: %s", r.line, ce.Message))
		default:
			return err
		}
	}
	return nil
}
