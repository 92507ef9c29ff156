package crawl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pricestream/pricestream/internal/catalog/crawl"
)

func ExampleFiles() {
	dir, _ := os.MkdirTemp("", "crawl")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(`{"id": 1, "ts": "2019-10-01 00:00:00 UTC", "brand": "aqua"}
{"id": 2, "ts": "2019-10-01 00:00:01 UTC", "brand": null}
`), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(`{"id": 3, "ts": "2019-10-01 00:00:02 UTC", "qty": 2}
`), 0o600)
	res, err := crawl.Files(context.Background(), []string{dir}, crawl.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Format.Type, res.Records, "records in", len(res.Files), "files")
	fmt.Print(res.Schema.Describe())
	// Output:
	// json 3 records in 2 files
	// id long not null
	// ts timestamp('yyyy-MM-dd HH:mm:ss z') not null
	// brand string
	// qty long
}
