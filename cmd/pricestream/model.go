package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/model"
)

func newModelCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Register, inspect and approve models; serve a model as a SageMaker container"}
	cmd.AddCommand(modelRegisterCmd(g), modelListCmd(g), modelDescribeCmd(g),
		modelStatusCmd(g, "approve", model.Approved), modelStatusCmd(g, "reject", model.Rejected), modelServeCmd())
	return cmd
}

// keyValues parses repeated k=v flags.
func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func modelRegisterCmd(g *globals) *cobra.Command {
	var (
		file, format, trainingData, description string
		features, types, metrics, tags          []string
		approve, asJSON                         bool
	)
	cmd := &cobra.Command{
		Use:   "register NAME --file F",
		Short: "Register a model file as the next version of model package NAME and print the version",
		Long: `Register a model file as the next version of a model package. The file is
loaded and checked first: a file that does not load is refused with the
loader's message. XGBoost JSON and LightGBM files carry their feature names;
give them with --features for the others (default f0, f1 ...).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			reg := api.ModelRegistration{Format: format, Artifact: data, Features: features, FeatureTypes: types, TrainingData: trainingData, Description: description}
			if reg.Tags, err = keyValues("tag", tags); err != nil {
				return err
			}
			ms, err := keyValues("metric", metrics)
			if err != nil {
				return err
			}
			for k, v := range ms {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return fmt.Errorf("--metric %s=%s: not a number", k, v)
				}
				if reg.Metrics == nil {
					reg.Metrics = map[string]float64{}
				}
				reg.Metrics[k] = f
			}
			if approve {
				reg.Status = string(model.Approved)
			}
			v, err := g.client().RegisterModel(cmd.Context(), args[0], reg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintln(cmd.OutOrStdout(), v.Version)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&file, "file", "", "the model file")
	fl.StringVar(&format, "format", "", "xgboost-json, lightgbm or linear-json (default: detect)")
	fl.StringSliceVar(&features, "features", nil, "feature names in row order, comma-separated")
	fl.StringSliceVar(&types, "feature-types", nil, "feature types in row order: float, int or categorical")
	fl.StringArrayVar(&metrics, "metric", nil, "an evaluation metric, NAME=VALUE (repeatable)")
	fl.StringArrayVar(&tags, "tag", nil, "a tag, KEY=VALUE (repeatable)")
	fl.StringVar(&trainingData, "training-data", "", "where the training data came from")
	fl.StringVar(&description, "description", "", "what this version is")
	fl.BoolVar(&approve, "approve", false, "register the version as Approved")
	fl.BoolVar(&asJSON, "json", false, "print the version as JSON")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func modelListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List model packages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pkgs, err := g.client().ListModels(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), pkgs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSIONS\tLATEST\tLATEST APPROVED\tUPDATED")
			for _, p := range pkgs {
				approved := "-"
				if p.LatestApproved > 0 {
					approved = strconv.Itoa(p.LatestApproved)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", p.Name, p.Versions, p.Latest, approved, p.Updated.Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func modelDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME[:VERSION]",
		Short: "Print a model package's versions, or one version, as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := model.ParseModelRef(args[0])
			if err != nil {
				return err
			}
			if version > 0 {
				v, err := g.client().ModelVersion(cmd.Context(), name, version)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), v)
			}
			info, err := g.client().DescribeModel(cmd.Context(), name)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), info)
		},
	}
}

func modelStatusCmd(g *globals, verb string, status model.ApprovalStatus) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME:VERSION",
		Short: fmt.Sprintf("Set a model version's approval status to %s", status),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := model.ParseModelRef(args[0])
			if err != nil {
				return err
			}
			if version == 0 {
				return fmt.Errorf("%s: name the version, as %s:VERSION", verb, name)
			}
			v, err := g.client().SetModelStatus(cmd.Context(), name, version, status)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s\n", v.Ref(), v.Status)
			return nil
		},
	}
}

func modelServeCmd() *cobra.Command {
	var (
		dir, host, logLevel string
		port                int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the model files of a directory with SageMaker's container contract (GET /ping, POST /invocations) and the Open Inference Protocol",
		Long: `Serve the model files of a directory as a SageMaker-style inference
container: GET /ping answers 200 once the models are loaded, POST
/invocations predicts (text/csv or application/json), and the Open
Inference Protocol v2 is served beside it. With several model files, the
X-Amzn-SageMaker-Target-Model header names the one to use (its file name).
No engine is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := app.NewLogger(app.LogConfig{Level: logLevel}, os.Stderr)
			s, err := app.NewModelServer(app.ModelServerConfig{Dir: dir, Addr: net.JoinHostPort(host, strconv.Itoa(port))}, logger)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s on http://%s\n", strings.Join(s.Models(), ", "), s.Addr())
			return s.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "model-dir", "/opt/ml/model", "directory of the model files")
	fl.StringVar(&host, "host", "0.0.0.0", "address to listen on")
	fl.IntVar(&port, "port", 8080, "port to listen on")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
