package record_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// TestRecordDecodersConcurrent decodes with shared decoders and a shared
// validator from several goroutines, each into its own Record, as ETL
// workers do (run it with -race).
func TestRecordDecodersConcurrent(t *testing.T) {
	jd := record.NewJSONDecoder(record.JSONOptions{Schema: clickSchema})
	cd, err := record.NewCSVDecoder(record.CSVOptions{Schema: clickSchema})
	require.NoError(t, err)
	v := record.NewValidator(clickSchema, record.ValidateOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r record.Record
			for range 200 {
				for _, step := range []func() error{
					func() error { return jd.DecodeString(clickJSON, &r) },
					func() error { return v.Validate(&r) },
					func() error { return cd.Decode([]byte(clickCSV), &r) },
					func() error { return v.Validate(&r) },
				} {
					if err := step(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
