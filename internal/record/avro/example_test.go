package avro_test

import (
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
)

func ExampleCodec() {
	c, err := avro.New(`{"type":"record","name":"click","fields":[
		{"name":"product_id","type":"long"},
		{"name":"brand","type":["null","string"],"default":null},
		{"name":"event_time","type":{"type":"long","logicalType":"timestamp-millis"}}]}`)
	if err != nil {
		panic(err)
	}
	fmt.Print(c.Schema().Describe())

	in := record.New(3)
	in.Append("product_id", record.LongValue(44600062))
	in.Append("brand", record.StringValue("shiseido"))
	in.Append("event_time", record.StringValue("2019-10-01T00:00:00Z")) // cast to the schema's type
	data, err := c.Append(nil, in)
	if err != nil {
		panic(err)
	}
	var out record.Record
	if err := c.Decode(data, &out); err != nil {
		panic(err)
	}
	fmt.Println(len(data), "bytes:", out.String())
	// Output:
	// product_id long not null
	// brand string
	// event_time timestamp not null
	// 20 bytes: {"product_id":44600062,"brand":"shiseido","event_time":"2019-10-01T00:00:00Z"}
}
