package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/model/train"
)

// trainReport is what `pricestream train` reports: the trainer's report
// and what the command did around it.
type trainReport struct {
	train.Report
	Files       []string        `json:"files"`
	SkippedRows int             `json:"skipped_rows"`
	Label       string          `json:"label"`
	Ignored     []train.Ignored `json:"ignored_columns,omitempty"`
	Out         string          `json:"out"`
	Format      string          `json:"format"`
	Bytes       int             `json:"bytes"`
	Seconds     float64         `json:"seconds"`
}

func newTrainCmd() *cobra.Command {
	var (
		files, features        []string
		label, monotone, out   string
		format                 string
		asJSON                 bool
		cfg                    = train.DefaultConfig()
		validation             = 0.2
		earlyStopping          int
		minChildWeight, lambda = cfg.MinChildWeight, cfg.Lambda
	)
	cmd := &cobra.Command{
		Use:   "train --data FILE --label COLUMN --out model.json",
		Short: "Fit a demand model (gradient-boosted trees) to recorded features and outcomes; write it as an XGBoost JSON model",
		Long: `Fit a demand model to recorded features and outcomes, and write it as an
XGBoost JSON model file that 'pricestream model register' takes as it is.

The data files are CSV with a header line, or JSON lines (one object a
line, as 'pricestream table scan' prints them), by extension (.csv;
.json, .jsonl, .ndjson) or else by content; "-" reads standard input.
Columns are matched by name across files. Empty values, null, NaN, NA
and N/A are missing; rows without a label are skipped.

Without --features, the features are every numeric column except the
label and columns named like ids or times (id, key, seq, time, timestamp,
ts, date, datetime, *_id, *_key, *_seq, *_time, *_timestamp, *_ts, *_date,
*_at, window_*). Naming a column that holds text is an error that shows
where.

Without --monotone, the prediction is made non-increasing in price and
price_ratio when they are features, as the pricing policy needs; give
--monotone none for no constraint, or name each: price=-1,views=1.

A report goes to standard error; --json prints it as JSON on standard
output. See docs/training.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if format != "xgboost-json" {
				return fmt.Errorf("--format %q: only xgboost-json is supported", format)
			}
			var tb train.Table
			for _, f := range files {
				if err := readDataFile(&tb, f, cmd.InOrStdin()); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("features") {
				features = nil
			}
			data, skipped, err := tb.Data(label, features)
			if err != nil {
				return err
			}
			rep := trainReport{Files: files, SkippedRows: skipped, Label: label, Out: out, Format: format}
			if features == nil {
				_, rep.Ignored = tb.DefaultFeatures(label)
			}
			cfg.Monotone, err = parseMonotone(monotone, cmd.Flags().Changed("monotone"), data.Features)
			if err != nil {
				return err
			}
			cfg.MinChildWeight = orSmallest(minChildWeight)
			cfg.Lambda = orSmallest(lambda)
			cfg.ValidationFraction = validation
			cfg.EarlyStoppingRounds = earlyStopping
			m, r, err := train.Train(cmd.Context(), data, cfg)
			if err != nil {
				return err
			}
			rep.Report = *r
			js := m.XGBoostJSON()
			if err := os.WriteFile(out, js, 0o644); err != nil {
				return err
			}
			rep.Bytes = len(js)
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rep)
			}
			printTrainReport(cmd.ErrOrStderr(), &rep)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&files, "data", nil, `a data file, CSV or JSON lines ("-": standard input; repeatable)`)
	fl.StringVar(&label, "label", "", "the column to predict (for the pricing policy: units sold)")
	fl.StringSliceVar(&features, "features", nil, "the feature columns, in model order, comma-separated (default: every numeric column but the label and ids and times)")
	fl.StringVar(&monotone, "monotone", "", "monotone constraints, FEATURE=-1|0|1 comma-separated, or none (default: price=-1,price_ratio=-1 where present)")
	fl.IntVar(&cfg.Trees, "trees", cfg.Trees, "boosting rounds (trees)")
	fl.IntVar(&cfg.MaxDepth, "depth", cfg.MaxDepth, "maximum tree depth")
	fl.Float64Var(&cfg.Eta, "eta", cfg.Eta, "learning rate")
	fl.Float64Var(&minChildWeight, "min-child-weight", minChildWeight, "least hessian sum (for squared error: rows) in a leaf")
	fl.Float64Var(&lambda, "lambda", lambda, "L2 regularisation of leaf weights")
	fl.Float64Var(&cfg.Gamma, "gamma", 0, "least loss reduction of a split")
	fl.IntVar(&cfg.MaxBins, "bins", cfg.MaxBins, "histogram bins per feature")
	fl.Float64Var(&cfg.Subsample, "subsample", cfg.Subsample, "fraction of training rows each tree sees")
	fl.Uint64Var(&cfg.Seed, "seed", 0, "seed of the validation split and subsampling (same seed and data: same file)")
	fl.Float64Var(&validation, "validation", validation, "fraction of rows held out to measure the model (0: none)")
	fl.BoolVar(&cfg.ValidationLast, "validation-last", false, "hold out the last rows (in file order) instead of a random sample: for data in time order")
	fl.IntVar(&earlyStopping, "early-stopping", 0, "stop after this many rounds without a better validation RMSE and keep the best trees (0: off)")
	fl.StringVar(&out, "out", "", "the model file to write")
	fl.StringVar(&format, "format", "xgboost-json", "model file format: xgboost-json")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON on standard output")
	_ = cmd.MarkFlagRequired("data")
	_ = cmd.MarkFlagRequired("label")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// orSmallest turns an explicit 0 into the smallest positive number, which
// the trainer takes as 0 (its zero means "default").
func orSmallest(v float64) float64 {
	if v == 0 {
		return 5e-324
	}
	return v
}

func readDataFile(tb *train.Table, name string, stdin io.Reader) error {
	if name == "-" {
		return tb.Read("stdin", stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return tb.Read(name, f)
}

// parseMonotone reads --monotone; unset, it constrains price and
// price_ratio (where they are features) to be non-increasing.
func parseMonotone(s string, set bool, features []string) (map[string]int, error) {
	out := map[string]int{}
	if !set {
		for _, f := range []string{"price", "price_ratio"} {
			if slices.Contains(features, f) {
				out[f] = -1
			}
		}
		return out, nil
	}
	if s == "none" || s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || k == "" || err != nil || n < -1 || n > 1 {
			return nil, fmt.Errorf("--monotone %q: want FEATURE=-1, FEATURE=0 or FEATURE=1, comma-separated, or none", kv)
		}
		out[k] = n
	}
	return out, nil
}

func printTrainReport(w io.Writer, r *trainReport) {
	fmt.Fprintf(w, "read %d rows from %s", r.Rows+r.SkippedRows, strings.Join(r.Files, ", "))
	if r.SkippedRows > 0 {
		fmt.Fprintf(w, " (%d without %s, skipped)", r.SkippedRows, r.Label)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "label: %s; features (%d): %s\n", r.Label, len(r.Features), strings.Join(r.Features, ", "))
	for _, ig := range r.Ignored {
		fmt.Fprintf(w, "ignored column %s: %s\n", ig.Column, ig.Reason)
	}
	if len(r.Monotone) > 0 {
		keys := make([]string, 0, len(r.Monotone))
		for k := range r.Monotone {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			keys[i] = fmt.Sprintf("%s=%d", k, r.Monotone[k])
		}
		fmt.Fprintf(w, "monotone: %s\n", strings.Join(keys, ","))
	}
	fmt.Fprintf(w, "trees: %d kept of %d built, base score %.6g\n", r.TreesKept, r.TreesBuilt, r.BaseScore)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\trows\tRMSE\tMAE\tbaseline RMSE (the mean)\t")
	fmt.Fprintf(tw, "train\t%d\t%.4g\t%.4g\t%.4g\t\n", r.Train.Rows, r.Train.RMSE, r.Train.MAE, r.Train.BaselineRMSE)
	if v := r.Validation; v != nil {
		fmt.Fprintf(tw, "validation\t%d\t%.4g\t%.4g\t%.4g\t\n", v.Rows, v.RMSE, v.MAE, v.BaselineRMSE)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "wrote %s (%s, %d bytes) in %.2fs; register it with: pricestream model register NAME --file %s\n", r.Out, r.Format, r.Bytes, r.Seconds, r.Out)
}
