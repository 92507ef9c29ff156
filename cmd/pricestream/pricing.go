package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/pricing"
)

func newPricingCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "pricing", Short: "The pricing kill switch and product freezes"}
	var reason string
	show := func(w io.Writer, st *pricing.ControlState) {
		if st.KillSwitch != nil {
			fmt.Fprintf(w, "kill switch: ON since %s (%s)\n", st.KillSwitch.At.Format("2006-01-02 15:04:05"), st.KillSwitch.Reason)
		} else {
			fmt.Fprintln(w, "kill switch: off")
		}
		for _, f := range st.Frozen {
			fmt.Fprintf(w, "frozen: %s since %s (%s)\n", f.Product, f.At.Format("2006-01-02 15:04:05"), f.Reason)
		}
	}
	status := &cobra.Command{
		Use: "status", Short: "Show the kill switch and frozen products", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.client().PricingControls(cmd.Context())
			if err != nil {
				return err
			}
			show(cmd.OutOrStdout(), st)
			return nil
		},
	}
	kill := &cobra.Command{
		Use: "kill-switch on|off", Short: "Stop (on) or allow again (off) every price change", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "on" && args[0] != "off" {
				return fmt.Errorf("want on or off, got %q", args[0])
			}
			st, err := g.client().SetKillSwitch(cmd.Context(), args[0] == "on", reason)
			if err != nil {
				return err
			}
			show(cmd.OutOrStdout(), st)
			return nil
		},
	}
	kill.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	freeze := &cobra.Command{
		Use: "freeze PRODUCT", Short: "Freeze a product's price", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.client().Freeze(cmd.Context(), args[0], true, reason)
			if err != nil {
				return err
			}
			show(cmd.OutOrStdout(), st)
			return nil
		},
	}
	freeze.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	unfreeze := &cobra.Command{
		Use: "unfreeze PRODUCT", Short: "Let the pipeline price a product again", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.client().Freeze(cmd.Context(), args[0], false, "")
			if err != nil {
				return err
			}
			show(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.AddCommand(status, kill, freeze, unfreeze)
	return cmd
}
