package trigger_test

import (
	"encoding/json"
	"fmt"

	"github.com/pricestream/pricestream/internal/trigger"
)

func ExampleParseSpec() {
	spec, err := trigger.ParseSpec([]byte(`
name: purchases
source: stream:clicks
function: http:http://127.0.0.1:9000/hook
filters:
  - pattern: {data: {event_type: [purchase]}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(spec.Function, spec.StartingPosition, spec.BatchSize, spec.Parallelism, spec.Retries(), spec.IsEnabled())
	_, err = trigger.ParseSpec([]byte("name: x\nsource: stream:clicks\nfunction: go:f\nbatch_size: 0\nparallelism: 20\nmax_retry_attempts: -1\n"))
	fmt.Println(err)
	// Output:
	// http://127.0.0.1:9000/hook trim_horizon 100 1 3 true
	// trigger: invalid argument: parallelism: must be 1-10, got 20
	// trigger: invalid argument: max_retry_attempts: must be 0-10000 (infinite retries would let one poison record stall a partition), got -1
}

func ExampleParsePattern() {
	p, err := trigger.ParsePattern([]byte(`{"data": {"event_type": ["purchase"], "price": [{"numeric": [">=", 100]}]}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rec := range []string{
		`{"data": {"event_type": "purchase", "price": 129.99}}`,
		`{"data": {"event_type": "purchase", "price": 12}}`,
		`{"data": {"event_type": "view", "price": 129.99}}`,
	} {
		var doc map[string]any
		_ = json.Unmarshal([]byte(rec), &doc)
		fmt.Println(p.Match(doc))
	}
	// Output:
	// true
	// false
	// false
}
