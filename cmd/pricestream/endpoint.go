package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/model"
)

func newEndpointCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "endpoint", Short: "Create endpoints that serve models, shift their traffic, inspect and delete them"}
	cmd.AddCommand(endpointCreateCmd(g), endpointUpdateCmd(g), endpointListCmd(g), endpointDescribeCmd(g), endpointDeleteCmd(g), endpointInvokeCmd(g))
	return cmd
}

// parseVariant reads [NAME=]MODEL[:VERSION][@WEIGHT].
func parseVariant(s string) (model.VariantConfig, error) {
	var v model.VariantConfig
	rest := s
	if name, r, ok := strings.Cut(s, "="); ok {
		v.Name, rest = name, r
	}
	if ref, w, ok := strings.Cut(rest, "@"); ok {
		f, err := strconv.ParseFloat(w, 64)
		if err != nil {
			return v, fmt.Errorf("variant %q: weight %q is not a number", s, w)
		}
		v.Weight, rest = model.Weight(f), ref
	}
	var err error
	if v.Model, v.Version, err = model.ParseModelRef(rest); err != nil {
		return v, fmt.Errorf("variant %q (want [NAME=]MODEL[:VERSION][@WEIGHT]): %w", s, err)
	}
	return v, nil
}

// endpointFlags are the flags create and update share.
type endpointFlags struct {
	file            string
	variants        []string
	shadow          string
	shadowSampling  float64
	captureStream   string
	captureSampling float64
	force, asJSON   bool
}

func (f *endpointFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "a JSON file with the whole definition (variants, shadow, capture)")
	fl.StringArrayVar(&f.variants, "variant", nil, "a production variant, [NAME=]MODEL[:VERSION][@WEIGHT] (repeatable; VERSION defaults to the newest Approved, WEIGHT to 1)")
	fl.StringVar(&f.shadow, "shadow", "", "a shadow variant, [NAME=]MODEL[:VERSION]: gets a copy of the traffic, its answers are recorded, never returned")
	fl.Float64Var(&f.shadowSampling, "shadow-sampling", 0, "percentage of requests copied to the shadow (default 100)")
	fl.StringVar(&f.captureStream, "capture-stream", "", "write captured requests and answers to this stream")
	fl.Float64Var(&f.captureSampling, "capture-sampling", 0, "percentage of requests captured (default 100)")
	fl.BoolVar(&f.force, "force", false, "deploy model versions that are not Approved")
	fl.BoolVar(&f.asJSON, "json", false, "print the endpoint as JSON")
}

// apply changes def as the flags ask.
func (f *endpointFlags) apply(cmd *cobra.Command, def *model.EndpointConfig) error {
	if f.file != "" {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return err
		}
		name := def.Name
		*def = model.EndpointConfig{}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(def); err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
		if def.Name == "" {
			def.Name = name
		}
	}
	if len(f.variants) > 0 {
		def.Variants = nil
		for _, s := range f.variants {
			v, err := parseVariant(s)
			if err != nil {
				return err
			}
			def.Variants = append(def.Variants, v)
		}
	}
	if f.shadow != "" {
		v, err := parseVariant(f.shadow)
		if err != nil {
			return err
		}
		def.Shadow = &v
	}
	if def.Shadow != nil && cmd.Flags().Changed("shadow-sampling") {
		def.Shadow.SamplingPercentage = f.shadowSampling
	}
	if f.captureStream != "" {
		def.Capture = &model.CaptureConfig{Stream: f.captureStream}
	}
	if def.Capture != nil && cmd.Flags().Changed("capture-sampling") {
		def.Capture.SamplingPercentage = f.captureSampling
	}
	return nil
}

func printEndpoint(cmd *cobra.Command, verb string, info *model.EndpointInfo, asJSON bool) error {
	if asJSON {
		return printJSON(cmd.OutOrStdout(), info)
	}
	var parts []string
	for _, v := range info.Variants {
		w := 1.0
		if v.Weight != nil {
			w = *v.Weight
		}
		parts = append(parts, fmt.Sprintf("%s=%s:%d@%g", v.Name, v.Model, v.Version, w))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s endpoint %s (%s): %s", verb, info.Name, info.Status, strings.Join(parts, " "))
	if s := info.Shadow; s != nil {
		fmt.Fprintf(cmd.OutOrStdout(), ", shadow %s=%s:%d (%g%%)", s.Name, s.Model, s.Version, s.SamplingPercentage)
	}
	if c := info.Capture; c != nil {
		fmt.Fprintf(cmd.OutOrStdout(), ", capture to %s (%g%%)", c.Stream, c.SamplingPercentage)
	}
	fmt.Fprintln(cmd.OutOrStdout())
	return nil
}

func endpointCreateCmd(g *globals) *cobra.Command {
	var f endpointFlags
	var modelRef string
	cmd := &cobra.Command{
		Use:   "create NAME --model MODEL[:VERSION]",
		Short: "Create an endpoint serving a model version (the newest Approved one unless VERSION is given)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def := model.EndpointConfig{Name: args[0]}
			if modelRef != "" {
				f.variants = append([]string{modelRef}, f.variants...)
			}
			if err := f.apply(cmd, &def); err != nil {
				return err
			}
			if len(def.Variants) == 0 {
				return fmt.Errorf("name a model with --model MODEL[:VERSION] (or --variant, or -f)")
			}
			info, err := g.client().CreateEndpoint(cmd.Context(), api.EndpointSpec{EndpointConfig: def, Force: f.force})
			if err != nil {
				return err
			}
			return printEndpoint(cmd, "created", info, f.asJSON)
		},
	}
	cmd.Flags().StringVar(&modelRef, "model", "", "the model, MODEL[:VERSION] (the variant AllTraffic)")
	f.register(cmd)
	return cmd
}

func endpointUpdateCmd(g *globals) *cobra.Command {
	var f endpointFlags
	var weights []string
	var noShadow, noCapture bool
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change an endpoint's variants, weights, versions, shadow or capture; requests in flight are not dropped",
		Long: `Change an endpoint. Flags not given keep what the endpoint has:
  --variant replaces the production variants,
  --weight NAME=W changes one variant's weight,
  --shadow / --no-shadow and --capture-stream / --no-capture set or remove those.
The server swaps the endpoint's routing table atomically: requests in flight
finish on the old one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			cur, err := c.DescribeEndpoint(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			def := cur.EndpointConfig
			if err := f.apply(cmd, &def); err != nil {
				return err
			}
			for _, w := range weights {
				name, val, ok := strings.Cut(w, "=")
				x, err := strconv.ParseFloat(val, 64)
				if !ok || err != nil {
					return fmt.Errorf("--weight %q: want VARIANT=WEIGHT", w)
				}
				found := false
				for i := range def.Variants {
					if def.Variants[i].Name == name {
						def.Variants[i].Weight, found = model.Weight(x), true
					}
				}
				if !found {
					return fmt.Errorf("--weight %q: endpoint %s has no variant %q", w, def.Name, name)
				}
			}
			if noShadow {
				def.Shadow = nil
			}
			if noCapture {
				def.Capture = nil
			}
			info, err := c.UpdateEndpoint(cmd.Context(), api.EndpointSpec{EndpointConfig: def, Force: f.force})
			if err != nil {
				return err
			}
			return printEndpoint(cmd, "updated", info, f.asJSON)
		},
	}
	f.register(cmd)
	cmd.Flags().StringArrayVar(&weights, "weight", nil, "set a variant's weight, VARIANT=WEIGHT (repeatable)")
	cmd.Flags().BoolVar(&noShadow, "no-shadow", false, "remove the shadow variant")
	cmd.Flags().BoolVar(&noCapture, "no-capture", false, "stop data capture")
	return cmd
}

func endpointListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := g.client().ListEndpoints(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tVARIANTS\tSHADOW\tCAPTURE\tUPDATED")
			for _, i := range infos {
				var vs []string
				for _, v := range i.Variants {
					w := 1.0
					if v.Weight != nil {
						w = *v.Weight
					}
					vs = append(vs, fmt.Sprintf("%s=%s:%d@%g", v.Name, v.Model, v.Version, w))
				}
				shadow, capture := "-", "-"
				if s := i.Shadow; s != nil {
					shadow = fmt.Sprintf("%s:%d", s.Model, s.Version)
				}
				if c := i.Capture; c != nil {
					capture = c.Stream
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i.Name, i.Status, strings.Join(vs, " "), shadow, capture, i.Updated.Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func endpointDescribeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Print an endpoint as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := g.client().DescribeEndpoint(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), info)
		},
	}
}

func endpointDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an endpoint",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().DeleteEndpoint(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted endpoint %s\n", args[0])
			return nil
		},
	}
}

func endpointInvokeCmd(g *globals) *cobra.Command {
	var body, file, contentType, accept, variant string
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Call an endpoint as SageMaker's InvokeEndpoint does and print the answer",
		Long: `Call an endpoint with rows in text/csv (one row per line, an empty field is
missing) or application/json ({"instances": [...]}), from --body, --file or
standard input, and print the answer; the variant that answered goes to
standard error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in []byte
			switch {
			case body != "":
				in = []byte(body)
			case file != "":
				b, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				in = b
			default:
				b, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return err
				}
				in = b
			}
			out, v, err := g.client().Invoke(cmd.Context(), args[0], contentType, accept, variant, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "variant %s\n", v)
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&body, "body", "", "the request body")
	fl.StringVar(&file, "file", "", "read the request body from this file")
	fl.StringVar(&contentType, "content-type", "text/csv", "text/csv or application/json")
	fl.StringVar(&accept, "accept", "", "the answer's type (default: the request's)")
	fl.StringVar(&variant, "variant", "", "pin a production variant")
	return cmd
}
