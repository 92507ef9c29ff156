// Command pricestream turns a web shop's clickstream into price changes
// within milliseconds. `pricestream serve` runs the server; the other
// commands are clients of a running server (--server).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// globals are the flags every client command shares.
type globals struct {
	server string
	token  string
}

func (g *globals) client() *client.Client {
	var opts []client.Option
	if g.token != "" {
		opts = append(opts, client.WithToken(g.token))
	}
	return client.New(g.server, opts...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRoot()
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError ends the process with a code after its message was printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "pricestream",
		Short:         "Turn a shop's clickstream into price changes within milliseconds",
		SilenceUsage:  true,
		SilenceErrors: false,
		Version:       version,
	}
	def := os.Getenv("PRICESTREAM_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	root.PersistentFlags().StringVar(&g.server, "server", def, "URL of the pricestream server (env PRICESTREAM_SERVER)")
	root.PersistentFlags().StringVar(&g.token, "token", os.Getenv("PRICESTREAM_TOKEN"), "API token (env PRICESTREAM_TOKEN)")
	root.AddCommand(newServeCmd(), newApplyCmd(g), newStreamCmd(g), newTableCmd(g), newJobCmd(g), newTriggerCmd(g), newModelCmd(g), newEndpointCmd(g), newPricingCmd(g), newConfigCmd(), newAuthCmd(g), newCatalogCmd(g), newCrawlCmd(g), newDemoCmd(), newBenchCmd(g), newSimCmd(g))
	return root
}
