// Package fastsneakers holds the Fast Sneakers scenario's definitions: the
// streams and tables it needs and its two streaming ETL jobs,
// click-features and sales (the YAML documents beside this file). Setup
// creates what is missing and applies the jobs through the native API; a
// `pricestream apply -f examples/fastsneakers/` command can call it.
package fastsneakers

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/etl"
)

//go:embed *.yaml
var files embed.FS

// Jobs returns the scenario's job documents, by name.
func Jobs() ([]*etl.Spec, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []*etl.Spec
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		s, err := etl.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Streams are the streams the scenario needs.
func Streams() []api.StreamSpec {
	return []api.StreamSpec{{Name: "clicks", Partitions: 4}}
}

// Tables are the tables the scenario needs, keyed as DESIGN.md says.
func Tables() []api.TableSpec {
	key := func(name string) api.KeyAttr { return api.KeyAttr{Name: name, Type: "S"} }
	return []api.TableSpec{
		{Name: "products", PartitionKey: key("product_id")},
		{Name: "orders", PartitionKey: key("order_id")},
		{Name: "product_sales", PartitionKey: key("product_id")},
		{Name: "pricing_features", PartitionKey: key("product_id")},
	}
}

// Setup creates the streams and tables that do not exist yet and applies
// the jobs.
func Setup(ctx context.Context, c *client.Client) error {
	for _, s := range Streams() {
		if _, err := c.CreateStream(ctx, s); err != nil && !client.IsCode(err, "already_exists") {
			return fmt.Errorf("stream %s: %w", s.Name, err)
		}
	}
	for _, t := range Tables() {
		if _, err := c.CreateTable(ctx, t); err != nil && !client.IsCode(err, "already_exists") {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	jobs, err := Jobs()
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range jobs {
		if _, err := c.ApplyJob(ctx, j.JSON()); err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.Name, err))
		}
	}
	return errors.Join(errs...)
}
