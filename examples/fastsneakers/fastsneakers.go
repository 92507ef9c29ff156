// Package fastsneakers holds the Fast Sneakers scenario's definitions: the
// streams and tables it needs and its two streaming ETL jobs,
// click-features and sales (the YAML documents beside this file). Setup
// creates what is missing and applies the jobs through the native API; a
// `pricestream apply -f examples/fastsneakers/` command can call it.
package fastsneakers

import (
	"context"
	"embed"
	"fmt"
	"io"

	"github.com/pricestream/pricestream/internal/apply"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/etl"
)

//go:embed *.yaml model/*.json
var files embed.FS

// PricingFeatures is the scenario's pricing.features: what a decision
// record keeps of the features row besides the model's inputs (which
// come along whatever the setting says): the views and view rate the
// dashboard charts as demand, the conversion and the trend. The demo and
// the bench use it unless their configuration names features.
var PricingFeatures = []string{"views", "view_rate", "conversion", "trend"}

// Documents returns the scenario's definition documents (streams, tables,
// the pricing model and endpoint, the jobs and the reprice trigger), as
// `pricestream apply -f examples/fastsneakers/` reads them.
func Documents() ([]apply.Document, error) {
	docs, err := apply.ReadFS(files, "examples/fastsneakers")
	if err != nil {
		return nil, err
	}
	for i := range docs {
		docs[i].FS = files
	}
	return docs, nil
}

// Jobs returns the scenario's job documents.
func Jobs() ([]*etl.Spec, error) {
	docs, err := Documents()
	if err != nil {
		return nil, err
	}
	var out []*etl.Spec
	for _, d := range docs {
		if d.Kind != "job" {
			continue
		}
		s, err := etl.Decode(d.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Where, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Setup applies the scenario's documents: what exists is kept, the jobs
// and trigger are brought up to date.
func Setup(ctx context.Context, c *client.Client) error {
	docs, err := Documents()
	if err != nil {
		return err
	}
	return apply.Apply(ctx, c, docs, io.Discard)
}
