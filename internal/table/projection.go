package table

import (
	"fmt"
	"slices"

	"github.com/pricestream/pricestream/internal/table/item"
)

// SubscribeOption configures a change subscription ([Table.Subscribe],
// [Table.Follow]).
type SubscribeOption func(*subscribeConfig)

type subscribeConfig struct {
	proj projection
}

// ImageAttrs makes a subscription decode only the named top-level
// attributes of its changes' images: [Change.New] and [Change.Old] hold
// those of the names the item has (no name: an empty item), and nothing
// else, as [Table.GetAttrs] reads an item; the other attributes are
// stepped over without being built. Keys, events, times and sizes are as
// without it, and so is which images are nil (New of a REMOVE, Old of an
// INSERT or of a table that keeps no old images). For [Table.Follow], the
// items it loads are projected alike.
//
// A reader that needs a few attributes of large items asks for those: the
// decode of a change's images is most of what a subscription allocates,
// once per change per subscription. Without this option the images are
// decoded whole. The subscription keeps its own copy of names.
func ImageAttrs(names ...string) SubscribeOption {
	names = slices.Clone(names)
	if names == nil {
		names = []string{}
	}
	return func(c *subscribeConfig) { c.proj = projection{names: names} }
}

func newSubscribeConfig(opts []SubscribeOption) subscribeConfig {
	var c subscribeConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// projection selects the top-level attributes of the images a change read
// decodes; the zero value (names nil) decodes them whole.
type projection struct {
	names []string
}

// decode decodes a stored item's binary form (nil for nil) as the
// projection selects.
func (p projection) decode(b []byte) (item.Item, error) {
	if p.names == nil {
		return decodeItem(b)
	}
	it, err := item.DecodeBinaryAttrs(b, p.names)
	if err != nil {
		return nil, fmt.Errorf("table: stored item: %w", err)
	}
	return it, nil
}
