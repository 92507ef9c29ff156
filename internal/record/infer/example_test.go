package infer_test

import (
	"fmt"

	"github.com/pricestream/pricestream/internal/record/infer"
)

func ExampleBytes() {
	data := []byte(`event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c
2019-10-01 00:00:00 UTC,view,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc
`)
	res, err := infer.Bytes(data, infer.Options{})
	if err != nil {
		panic(err)
	}
	c := res.Classification
	fmt.Printf("%s certainty %.1f delimiter %q header %v\n", c.Format, c.Certainty, c.Delimiter, c.Header)
	fmt.Print(res.Schema.Describe())
	// Output:
	// csv certainty 1.0 delimiter ',' header true
	// event_time timestamp('yyyy-MM-dd HH:mm:ss z') not null
	// event_type string not null
	// product_id long not null
	// category_id long not null
	// category_code string
	// brand string not null
	// price double not null
	// user_id long not null
	// user_session string not null
}
