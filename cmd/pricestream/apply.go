package main

import (
	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/apply"
)

func newApplyCmd(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR ...",
		Short: "Apply definition documents: streams, tables, catalog databases and tables, models, endpoints, jobs and triggers",
		Long: `apply reads YAML or JSON documents (several per file; a directory's
*.yaml, *.yml and *.json files) and applies them in dependency order:
streams, tables, catalog databases and tables, models, endpoints, jobs,
triggers. Each document names its
kind and its name; the rest is what the part's API takes. Applying again is
harmless: what exists is kept or brought up to date.

  pricestream apply -f examples/fastsneakers/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := apply.Read(files...)
			if err != nil {
				return err
			}
			return apply.Apply(cmd.Context(), g.client(), docs, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringSliceVarP(&files, "file", "f", nil, "files or directories of documents")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}
