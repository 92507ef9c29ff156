package catalog

import (
	"encoding/json"
	"strconv"
)

func itoa(i int) string { return strconv.Itoa(i) }

func strconvQuote(s string) string { return strconv.Quote(s) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
