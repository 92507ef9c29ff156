package payload_test

import (
	"fmt"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/payload"
)

func ExampleDecodeCSV() {
	features := []model.Feature{{Name: "views", Type: model.FeatureInt}, {Name: "price", Type: model.FeatureFloat}}
	rows, err := payload.DecodeCSV([]byte("4,1.5\n,2\n"), features) // an empty field is missing
	fmt.Println(rows, err)
	fmt.Printf("%q\n", payload.AppendCSV(nil, []float64{9, 6}))

	_, err = payload.DecodeCSV([]byte("4.5,1\n"), features)
	fmt.Println(err)
	// Output:
	// [[4 1.5] [NaN 2]] <nil>
	// "9\n6\n"
	// payload: csv line 1, value 1: 4.5 is not a whole number; feature views is int
}
