package web

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Snapshot is what the dashboard shows at one moment, as its event stream
// sends it (JSON).
type Snapshot struct {
	At time.Time `json:"at"`
	// Viewer is who watches, and what they may do.
	Viewer Viewer `json:"viewer"`
	// EventsStream is the stream whose records are counted as events;
	// EventsPerSecond its rate over the last seconds (from the tips of its
	// partitions) and EventsTotal every record it ever stored.
	EventsStream    string  `json:"events_stream"`
	EventsPerSecond float64 `json:"events_per_second"`
	EventsTotal     uint64  `json:"events_total"`
	// DecisionsPerSecond is the rate of pricing decisions seen on the
	// price-changes stream; Counts counts them by action since the
	// dashboard started (plus the backfill).
	DecisionsPerSecond float64          `json:"decisions_per_second"`
	Counts             map[string]int64 `json:"counts"`
	// Latency is the end-to-end latency (event ingested → price committed)
	// of the price changes applied in the last minute.
	Latency  Latency      `json:"latency"`
	Jobs     []JobLag     `json:"jobs"`
	Triggers []TriggerLag `json:"triggers"`
	Controls Controls     `json:"controls"`
	// Products are the rows of the product table: the most active ones,
	// or those matching the viewer's filter.
	Products []Product `json:"products"`
	// Tracked is how many products had a decision recently.
	Tracked int `json:"tracked"`
	// Filter echoes the viewer's filter.
	Filter string `json:"filter,omitempty"`
	// Decisions are the newest applied and the newest refused decisions
	// (Config.Decisions of each), newest first.
	Decisions []Decision `json:"decisions"`
	// Series is the price and demand of the charted product.
	Series *Series `json:"series,omitempty"`
}

// Viewer is who watches the dashboard.
type Viewer struct {
	Principal string `json:"principal"`
	// Auth says whether authentication is on (so there is a logout).
	Auth bool `json:"auth"`
	// CanControl says whether the viewer may use the guardrail controls
	// (the "jobs" scope of the pricing API).
	CanControl bool `json:"can_control"`
}

// Latency holds percentiles in milliseconds.
type Latency struct {
	WindowSeconds float64 `json:"window_seconds"`
	Count         int     `json:"count"`
	P50           float64 `json:"p50_ms"`
	P90           float64 `json:"p90_ms"`
	P99           float64 `json:"p99_ms"`
	Max           float64 `json:"max_ms"`
}

// JobLag is the state and lag of one ETL job.
type JobLag struct {
	Name         string    `json:"name"`
	State        string    `json:"state"`
	Error        string    `json:"error,omitempty"`
	LagRecords   uint64    `json:"lag_records"`
	RecordsIn    uint64    `json:"records_in"`
	DeadLettered uint64    `json:"dead_lettered"`
	Watermark    time.Time `json:"watermark,omitzero"`
}

// TriggerLag is the state and lag of one trigger, over its partitions.
type TriggerLag struct {
	Name              string `json:"name"`
	Source            string `json:"source"`
	State             string `json:"state"`
	Error             string `json:"error,omitempty"`
	LagRecords        uint64 `json:"lag_records"`
	LagMillis         int64  `json:"lag_ms"`
	IteratorAgeMillis int64  `json:"iterator_age_ms"`
	Processed         int64  `json:"processed"`
	Errors            int64  `json:"errors"`
}

// Controls are the pricing switches that are on.
type Controls struct {
	KillSwitch *pricing.Control   `json:"kill_switch"`
	Frozen     []*pricing.Control `json:"frozen"`
}

// Product is one row of the product table.
type Product struct {
	ID        string  `json:"id"`
	Name      string  `json:"name,omitempty"`
	Brand     string  `json:"brand,omitempty"`
	Price     float64 `json:"price"`
	Previous  float64 `json:"previous,omitempty"`
	BasePrice float64 `json:"base_price,omitempty"`
	MinPrice  float64 `json:"min_price,omitempty"`
	MaxPrice  float64 `json:"max_price,omitempty"`
	Inventory float64 `json:"inventory"`
	// Direction of the last change: "up", "down" or "" (none).
	Direction string `json:"direction,omitempty"`
	Frozen    bool   `json:"frozen,omitempty"`
	// Activity counts the product's decisions of the last five minutes.
	Activity   int       `json:"activity"`
	LastAction string    `json:"last_action,omitempty"`
	LastReason string    `json:"last_reason,omitempty"`
	ChangedAt  time.Time `json:"changed_at,omitzero"`
}

// Decision is one entry of the decision log.
type Decision struct {
	At        time.Time `json:"at"`
	ProductID string    `json:"product_id"`
	Action    string    `json:"action"`
	Reason    string    `json:"reason,omitempty"`
	OldPrice  float64   `json:"old_price"`
	NewPrice  float64   `json:"new_price"`
	E2EMillis float64   `json:"e2e_ms,omitempty"`
	Model     string    `json:"model,omitempty"`
}

// Series is a product's price and demand over its recent decisions.
type Series struct {
	ProductID string `json:"product_id"`
	// DemandName names the demand measure (a features attribute).
	DemandName string `json:"demand_name"`
	// T are Unix milliseconds; Price and Demand have one value per time.
	T      []int64   `json:"t"`
	Price  []float64 `json:"price"`
	Demand []float64 `json:"demand"`
}

// View is what one viewer asks of a snapshot.
type View struct {
	// Filter keeps products whose id, name or brand contain it (any case).
	Filter string
	// Product is the product to chart; default the first row.
	Product string
	// Rows bounds the product rows; default Config.Rows.
	Rows int
	// Principal is the viewer (nil: authentication off).
	Principal *auth.Principal
}

// Snapshot builds what the dashboard shows now for a view. It counts as a
// viewer looking: when nobody was watching, the dashboard starts reading
// the decisions, and Snapshot waits (a few seconds at most) until it has
// read back the newest ones.
func (d *Dashboard) Snapshot(ctx context.Context, v View) (*Snapshot, error) {
	d.awaitReady(ctx, d.look())
	return d.snapshot(ctx, v, nil)
}

// filterRescan is how long an event stream reuses the products its filter
// matched before it looks again: a filter that matches few of many
// products scans the table, which is too dear to do every interval.
const filterRescan = 5 * time.Second

// matchCache holds the products a viewer's filter matched.
type matchCache struct {
	filter string
	rows   int
	ids    []string
	at     time.Time
}

// snapshot builds a snapshot, reusing the filter matches of mc (when not
// nil and fresh) and storing new ones in it.
func (d *Dashboard) snapshot(ctx context.Context, v View, mc *matchCache) (*Snapshot, error) {
	now := time.Now()
	rows := v.Rows
	if rows <= 0 || rows > d.cfg.MaxRows {
		rows = d.cfg.Rows
	}
	filter := strings.ToLower(strings.TrimSpace(v.Filter))
	s := &Snapshot{At: now.UTC(), EventsStream: d.cfg.EventsStream, Filter: v.Filter, Counts: map[string]int64{}}
	s.Viewer = Viewer{Principal: "unrestricted", Auth: d.deps.Auth != nil, CanControl: true}
	if p := v.Principal; p != nil {
		s.Viewer.Principal, s.Viewer.CanControl = p.Name, p.Allows(auth.Plain("jobs"))
	}

	d.mu.Lock()
	s.EventsPerSecond, s.EventsTotal = d.mu.events.perSecond(), d.mu.eventsTotal
	s.DecisionsPerSecond = d.mu.decided.perSecond()
	for k, n := range d.mu.counts {
		s.Counts[k] = n
	}
	s.Latency = d.mu.latency
	s.Jobs, s.Triggers = d.mu.jobs, d.mu.triggers
	s.Decisions = make([]Decision, 0, 2*d.cfg.Decisions)
	n := min(d.cfg.Decisions, maxDecisions)
	s.Decisions = append(s.Decisions, newest(d.mu.applied, n)...)
	s.Decisions = append(s.Decisions, newest(d.mu.refused, n)...)
	s.Tracked = len(d.mu.products)
	ranked := d.rankedLocked(now)
	d.mu.Unlock()
	sort.SliceStable(s.Decisions, func(i, j int) bool { return s.Decisions[i].At.After(s.Decisions[j].At) })
	if s.Jobs == nil {
		s.Jobs = []JobLag{}
	}
	if s.Triggers == nil {
		s.Triggers = []TriggerLag{}
	}
	s.Controls.Frozen = []*pricing.Control{}
	frozen := map[string]bool{}
	if d.deps.Controls != nil {
		st := d.deps.Controls.State()
		s.Controls = Controls{KillSwitch: st.KillSwitch, Frozen: st.Frozen}
		for _, f := range st.Frozen {
			frozen[f.Product] = true
		}
	}

	products, err := d.productsTable(ctx)
	if err != nil && !errors.Is(err, table.ErrNotFound) {
		return nil, err
	}
	var ids []string
	items := map[string]item.Item{}
	if mc != nil && filter != "" && mc.filter == filter && mc.rows == rows && now.Sub(mc.at) < filterRescan {
		ids = mc.ids
	} else {
		if ids, err = d.pick(ctx, products, ranked, filter, rows, items); err != nil {
			return nil, err
		}
		if mc != nil {
			*mc = matchCache{filter: filter, rows: rows, ids: ids, at: now}
		}
	}
	s.Products = make([]Product, 0, len(ids))
	d.mu.Lock()
	states := make(map[string]productState, len(ids))
	for _, id := range ids {
		if p := d.mu.products[id]; p != nil {
			states[id] = productState{lastAct: p.lastAct, lastWhy: p.lastWhy, changedAt: p.changedAt, lastNew: p.lastNew, times: slices.Clone(newest(p.times, maxActivityTimes))}
		}
	}
	d.mu.Unlock()
	for _, id := range ids {
		it := items[id]
		if it == nil && products != nil {
			if it, err = products.Get(ctx, d.key(products, id), table.GetOptions{}); err != nil {
				return nil, err
			}
		}
		row := Product{ID: id, Frozen: frozen[id]}
		if it != nil {
			row.Name, row.Brand = str(it, "name"), str(it, "brand")
			row.Price, row.Previous = num(it, "price"), num(it, "price_previous")
			row.BasePrice, row.MinPrice, row.MaxPrice = num(it, "base_price"), num(it, "min_price"), num(it, "max_price")
			row.Inventory = num(it, "inventory")
		}
		if st, ok := states[id]; ok {
			row.Activity = st.activity(now)
			row.LastAction, row.LastReason, row.ChangedAt = st.lastAct, st.lastWhy, st.changedAt
			if row.Price == 0 {
				row.Price = st.lastNew
			}
		}
		switch {
		case row.Previous == 0 || row.Previous == row.Price:
		case row.Price > row.Previous:
			row.Direction = "up"
		default:
			row.Direction = "down"
		}
		s.Products = append(s.Products, row)
	}

	chart := v.Product
	if chart == "" && len(s.Products) > 0 {
		chart = s.Products[0].ID
	}
	if chart != "" {
		s.Series = d.series(chart)
		if len(s.Series.T) == 0 {
			// No decision yet: the current price alone.
			for _, p := range s.Products {
				if p.ID == chart && p.Price > 0 {
					s.Series.T, s.Series.Price, s.Series.Demand = []int64{now.UnixMilli()}, []float64{p.Price}, []float64{0}
				}
			}
		}
	}
	return s, nil
}

// pick chooses the product rows: the most active products (matching the
// filter) first; then, while rows remain, the table's others in key order,
// so a quiet shop still shows some. It puts the items it read in items.
func (d *Dashboard) pick(ctx context.Context, products *table.Table, ranked []string, filter string, rows int, items map[string]item.Item) ([]string, error) {
	ids := make([]string, 0, rows)
	taken := map[string]bool{}
	for _, id := range ranked {
		if len(ids) == rows {
			break
		}
		if filter == "" {
			ids, taken[id] = append(ids, id), true
			continue
		}
		if products == nil {
			continue
		}
		it, err := products.Get(ctx, d.key(products, id), table.GetOptions{})
		if err != nil {
			return nil, err
		}
		if matches(it, id, filter) {
			ids, taken[id], items[id] = append(ids, id), true, it
		}
	}
	if products != nil && len(ids) < rows {
		if err := d.scan(ctx, products, filter, rows, taken, func(id string, it item.Item) {
			ids, items[id] = append(ids, id), it
		}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// rankedLocked returns the tracked products, most active first (then most
// recently active). The ranking is shared by every viewer and made again
// when decisions arrived, at most once per half interval, or after a
// second (activity fades with time).
func (d *Dashboard) rankedLocked(now time.Time) []string {
	age := now.Sub(d.mu.rankedAt)
	if d.mu.ranked != nil && age < time.Second && (d.mu.rankedTotal == d.mu.total || age < d.cfg.Interval/2) {
		return d.mu.ranked
	}
	type active struct {
		id       string
		activity int
		lastAt   int64
	}
	all := make([]active, 0, len(d.mu.products))
	for _, p := range d.mu.products {
		all = append(all, active{p.id, p.activity(now), p.lastAt})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].activity != all[j].activity {
			return all[i].activity > all[j].activity
		}
		if all[i].lastAt != all[j].lastAt {
			return all[i].lastAt > all[j].lastAt
		}
		return all[i].id < all[j].id
	})
	ranked := make([]string, len(all))
	for i, a := range all {
		ranked[i] = a.id
	}
	// A new slice each time: viewers may still read the previous one.
	d.mu.ranked, d.mu.rankedAt, d.mu.rankedTotal = ranked, now, d.mu.total
	return ranked
}

// series copies a product's series.
func (d *Dashboard) series(id string) *Series {
	s := &Series{ProductID: id, DemandName: d.cfg.DemandFeature, T: []int64{}, Price: []float64{}, Demand: []float64{}}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.mu.products[id]; p != nil {
		if p.demandName != "" {
			s.DemandName = p.demandName
		}
		for _, pt := range newest(p.series, maxSeriesPoints) {
			s.T = append(s.T, pt.At)
			s.Price = append(s.Price, pt.Price)
			s.Demand = append(s.Demand, pt.Demand)
		}
	}
	return s
}

// maxScan bounds the items a filtered snapshot reads from the products
// table; a filter that matches few of very many products shows the
// matches among the first maxScan.
const maxScan = 50_000

// scan reads products in key order, skipping those taken, and calls add
// for those matching filter until rows are taken in all.
func (d *Dashboard) scan(ctx context.Context, t *table.Table, filter string, rows int, taken map[string]bool, add func(string, item.Item)) error {
	n := len(taken)
	var start *item.Key
	for scanned := 0; n < rows && scanned < maxScan; {
		page, err := t.Scan(ctx, table.ScanInput{Limit: 500, ExclusiveStartKey: start})
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			id := str(it, t.Schema().Partition.Name)
			if id == "" || taken[id] || !matches(it, id, filter) {
				continue
			}
			add(id, it)
			taken[id] = true
			if n++; n == rows {
				return nil
			}
		}
		scanned += page.ScannedCount
		if page.LastEvaluatedKey == nil {
			return nil
		}
		start = page.LastEvaluatedKey
	}
	return nil
}

func matches(it item.Item, id, filter string) bool {
	if filter == "" {
		return true
	}
	if strings.Contains(strings.ToLower(id), filter) {
		return true
	}
	return it != nil && (strings.Contains(strings.ToLower(str(it, "name")), filter) || strings.Contains(strings.ToLower(str(it, "brand")), filter))
}

func (d *Dashboard) key(t *table.Table, id string) item.Key {
	k, _ := t.ParseKey(item.Item{t.Schema().Partition.Name: item.StringValue(id)})
	return k
}

// productsTable opens the products table, once it exists.
func (d *Dashboard) productsTable(ctx context.Context) (*table.Table, error) {
	d.tmu.Lock()
	defer d.tmu.Unlock()
	if d.products != nil {
		return d.products, nil
	}
	t, err := d.deps.Tables.Open(ctx, d.cfg.Products)
	if err != nil {
		return nil, err
	}
	d.products = t
	return t, nil
}

func num(it item.Item, name string) float64 {
	if v, ok := it[name]; ok && v.Type() == item.N {
		return v.N().Float64()
	}
	return 0
}

func str(it item.Item, name string) string {
	if v, ok := it[name]; ok && v.Type() == item.S {
		return v.S()
	}
	return ""
}
