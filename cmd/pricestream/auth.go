package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newAuthCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Manage API keys (needs an admin key or the bootstrap token)"}
	var (
		name   string
		scopes []string
	)
	create := &cobra.Command{
		Use:   "create-key",
		Short: "Create an API key and print its token (shown once)",
		Long: `Scopes: admin, catalog, jobs, models, invoke[:ENDPOINT],
stream:NAME:put, stream:NAME:read, table:NAME:read, table:NAME:write;
NAME may be * for every stream or table.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := g.client().CreateKey(cmd.Context(), name, scopes)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", res.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "created key %s (%s) with scopes %s; the token above is shown only once\n", res.Key.ID, res.Key.Name, strings.Join(res.Key.Scopes, ","))
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "a scope the key grants (repeat or separate with commas)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("scope")
	list := &cobra.Command{
		Use:   "list-keys",
		Short: "List API keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := g.client().ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.Created.Format("2006-01-02 15:04"), k.Revoked)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke-key ID",
		Short: "Revoke an API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
