package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/app"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check and show configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a configuration file, reporting every problem with its path",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := app.CheckFile(args[0]); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					fmt.Fprintln(cmd.ErrOrStderr(), line)
				}
				return exitError{code: 2}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", args[0])
			return nil
		},
	})
	var f serverFlags
	print := &cobra.Command{
		Use:   "print",
		Short: "Show the effective configuration (defaults, file, environment, flags) with secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tVALUE\tVARIABLE")
			for _, s := range app.Settings(&cfg) {
				v := s.Value
				if v == "" {
					v = `""`
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Path, v, s.Env)
			}
			return tw.Flush()
		},
	}
	f.register(print)
	cmd.AddCommand(print)
	return cmd
}
