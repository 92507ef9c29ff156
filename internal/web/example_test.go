package web_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/web"
)

// A snapshot of the dashboard: the products table's rows with their price
// and the direction of their last change. (internal/app mounts the
// dashboard on the API server with Mount and runs it with Run.)
func ExampleDashboard_Snapshot() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "web-example-")
	defer os.RemoveAll(dir)
	cfg := engine.DefaultConfig()
	cfg.DataDir = dir
	eng, err := engine.Start(ctx, cfg, engine.Deps{})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	streams, _ := stream.New(stream.Config{}, stream.Deps{Engine: eng})
	defer streams.Close()
	tables, _ := table.New(table.Config{}, table.Deps{Engine: eng})
	defer tables.Close()
	_, _ = tables.Create(ctx, table.Spec{Name: "products", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	products, _ := tables.Open(ctx, "products")
	_, _ = products.Put(ctx, item.Item{"product_id": item.StringValue("sneaker-1"), "name": item.StringValue("Air Runner"),
		"price": item.IntValue(110), "price_previous": item.IntValue(100)}, table.WriteOptions{})

	d, err := web.New(web.Config{}, web.Deps{Streams: streams, Tables: tables})
	if err != nil {
		log.Fatal(err)
	}
	s, err := d.Snapshot(ctx, web.View{})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range s.Products {
		fmt.Printf("%s %s %.2f (was %.2f, %s)\n", p.ID, p.Name, p.Price, p.Previous, p.Direction)
	}
	// Output:
	// sneaker-1 Air Runner 110.00 (was 100.00, up)
}
