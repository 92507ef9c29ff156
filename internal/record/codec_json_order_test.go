package record_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// TestJSONDecodeMemberOrder: a typed decoder learns the order its input's
// members come in, and the result never depends on it: objects whose
// members come in the schema's order, in another order, with columns
// missing, with unknown keys, and with duplicate keys (the last wins) all
// decode to the same typed fields, one decoder decoding them in turns, and
// several goroutines sharing one (run with -race).
func TestJSONDecodeMemberOrder(t *testing.T) {
	schema := record.MustSchema(
		record.Column{Name: "id", Type: record.TypeString},
		record.Column{Name: "at", Type: record.MustParseType("timestamp")},
		record.Column{Name: "kind", Type: record.TypeString},
		record.Column{Name: "absent", Type: record.TypeString},
		record.Column{Name: "price", Type: record.TypeDouble},
		record.Column{Name: "qty", Type: record.TypeLong},
	)
	const want = `{"at":2026-11-27T10:00:00.5Z,"id":"e1","kind":"view","price":35.5,"qty":2}`
	cases := []string{
		`{"id":"e1","at":"2026-11-27T10:00:00.5Z","kind":"view","price":35.5,"qty":2}`,
		`{"id":"e1","kind":"view","at":"2026-11-27T10:00:00.5Z","price":35.5,"qty":2}`,
		`{"qty":2,"price":35.5,"kind":"view","at":"2026-11-27T10:00:00.5Z","id":"e1"}`,
		`{"id":"e1","kind":"view","x":1,"at":"2026-11-27T10:00:00.5Z","price":35.5,"qty":2}`,
		`{"id":"e1","kind":"view","kind":"view","at":"2026-11-27T10:00:00.5Z","price":35.5,"qty":2}`,
		`{"kind":"click","kind":"view","id":"e1","at":"2026-11-27T10:00:00.5Z","price":35.5,"qty":2}`,
		`{"id":"e0","id":"e1","at":"2026-11-27T10:00:00.5Z","kind":"view","price":1,"price":35.5,"qty":2}`,
		`{"price":"35.5","qty":"2","id":"e1","kind":"view","at":"2026-11-27T10:00:00.5Z"}`,
	}
	plain := func(r *record.Record) string {
		// by name, typed: the same text whatever the members' order
		s := "{"
		for i, name := range []string{"at", "id", "kind", "price", "qty"} {
			v, ok := r.Get(name)
			if !ok {
				return fmt.Sprintf("no %s in %s", name, r)
			}
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("%q:%s", name, v.String())
		}
		return s + "}"
	}
	check := func(dec *record.JSONDecoder, r *record.Record, in string) error {
		if err := dec.DecodeString(in, r); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		if got := plain(r); got != want {
			return fmt.Errorf("%s: got %s, want %s", in, got, want)
		}
		if v, _ := r.Get("at"); v.Kind() != record.KindTimestamp {
			return fmt.Errorf("%s: at is a %v", in, v.Kind())
		}
		fields := 5
		if _, ok := r.Get("x"); ok {
			fields = 6 // the unknown key stays
		}
		if n := r.Len(); n != fields {
			return fmt.Errorf("%s: %d fields: %s", in, n, r)
		}
		return nil
	}

	dec := record.NewJSONDecoder(record.JSONOptions{Schema: schema})
	var r record.Record
	for range 3 {
		for _, in := range cases {
			require.NoError(t, check(dec, &r, in))
			require.NoError(t, check(dec, &r, in), "again, in the order just learned")
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(cases))
	for g := range cases {
		wg.Go(func() {
			var r record.Record
			for i := range 300 {
				if err := check(dec, &r, cases[(g+i/7)%len(cases)]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
