package sim

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// Trend is a demand shock: "celebrity seen wearing model X". From At on,
// the product's traffic is multiplied by Boost and its visitors'
// willingness to pay by Hype; both excesses halve every HalfLife.
type Trend struct {
	Product  string        `json:"product_id"`
	At       time.Duration `json:"at"`
	Boost    float64       `json:"boost"`
	Hype     float64       `json:"hype"`
	HalfLife time.Duration `json:"half_life"`
}

// Config describes the simulated shop. A zero field means its default.
type Config struct {
	// Seed makes everything the shop does reproducible.
	Seed uint64 `json:"seed"`
	// Products is the catalog size. Default 50.
	Products int `json:"products"`
	// Start is the simulated time the run starts at. Default
	// 2026-11-02T00:00:00Z (a Monday).
	Start time.Time `json:"start"`
	// ViewsPerSecond is the shop's mean product views per simulated
	// second, over a day. Default 20.
	ViewsPerSecond float64 `json:"views_per_second"`
	// Flat turns the daily traffic curve (quiet nights, busy evenings)
	// off: traffic is steady, as a benchmark wants.
	Flat bool `json:"flat"`
	// Trends are scheduled demand shocks; TrendsPerDay adds random ones
	// (default 4; negative means none).
	Trends       []Trend `json:"trends,omitempty"`
	TrendsPerDay float64 `json:"trends_per_day"`
	// IntentShare is the share of views by visitors who would buy at an
	// acceptable price. Default 0.3.
	IntentShare float64 `json:"intent_share"`
	// BotShare is the share of views by bots, which never buy and which
	// the pipeline must filter out. Default 0.01.
	BotShare float64 `json:"bot_share"`
}

func (c Config) withDefaults() Config {
	if c.Products == 0 {
		c.Products = 50
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	}
	if c.ViewsPerSecond == 0 {
		c.ViewsPerSecond = 20
	}
	if c.TrendsPerDay == 0 {
		c.TrendsPerDay = 4
	}
	if c.IntentShare == 0 {
		c.IntentShare = 0.3
	}
	if c.BotShare == 0 {
		c.BotShare = 0.01
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Products < 0 || c.Products > 1_000_000 {
		errs = append(errs, fmt.Errorf("products: must be 1-1000000, got %d", c.Products))
	}
	if c.ViewsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("views_per_second: must not be negative, got %g", c.ViewsPerSecond))
	}
	if c.IntentShare < 0 || c.IntentShare > 1 || c.BotShare < 0 || c.BotShare > 1 {
		errs = append(errs, errors.New("intent_share and bot_share: must be 0-1"))
	}
	for i, t := range c.Trends {
		if t.Product == "" || t.At < 0 || t.Boost < 0 || t.Hype < 0 || t.HalfLife < 0 {
			errs = append(errs, fmt.Errorf("trends[%d]: needs a product_id, and at, boost, hype and half_life must not be negative", i))
		}
	}
	return errors.Join(errs...)
}

// Event is a click event as the shop sends it to the clicks stream.
type Event struct {
	ID        string
	Type      string
	ProductID string
	UserID    string
	SessionID string
	Time      time.Time
	Price     float64
	Quantity  int
	Referrer  string
	Device    string
}

// AppendJSON appends the event as the JSON object the clicks stream
// takes.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"event_id":"`...)
	b = append(b, e.ID...)
	b = append(b, `","event_type":"`...)
	b = append(b, e.Type...)
	b = append(b, `","product_id":"`...)
	b = append(b, e.ProductID...)
	b = append(b, `","user_id":"`...)
	b = append(b, e.UserID...)
	b = append(b, `","session_id":"`...)
	b = append(b, e.SessionID...)
	b = append(b, `","event_time":"`...)
	b = record.AppendTimeRFC3339Nano(b, e.Time.UTC())
	b = append(b, `","price":`...)
	b = strconv.AppendFloat(b, e.Price, 'f', 2, 64)
	b = append(b, `,"quantity":`...)
	b = strconv.AppendInt(b, int64(e.Quantity), 10)
	b = append(b, `,"referrer":"`...)
	b = append(b, e.Referrer...)
	b = append(b, `","device":"`...)
	b = append(b, e.Device...)
	return append(b, `"}`...)
}

// Order is an order as the shop writes it to the orders table.
type Order struct {
	OrderID   string      `json:"order_id"`
	Customer  string      `json:"customer"`
	Items     []OrderItem `json:"items"`
	Status    string      `json:"status"`
	CreatedAt string      `json:"created_at"`
	// ExpiresAt is when the orders table lets the order expire, in seconds
	// since the Unix epoch (Options.OrderTTL); 0: never.
	ExpiresAt int64 `json:"expires_at,omitempty"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID string  `json:"product_id"`
	Quantity  int     `json:"quantity"`
	UnitPrice float64 `json:"unit_price"`
}

// Score is the outcome of a run so far. The shop is simulated twice on
// the same random draws (common random numbers): once at the prices the
// pipeline sets and once at static base prices, so the difference in
// revenue is the effect of pricing alone, not of luck.
type Score struct {
	SimSeconds      float64 `json:"sim_seconds"`
	Events          int64   `json:"events"`
	Views           int64   `json:"views"`
	Carts           int64   `json:"add_to_carts"`
	Purchases       int64   `json:"purchases"`
	PurchasesStatic int64   `json:"purchases_static"`
	RevenueDynamic  float64 `json:"revenue_dynamic"`
	RevenueStatic   float64 `json:"revenue_static"`
	UpliftPct       float64 `json:"revenue_uplift_pct"`
	// OutOfStock counts purchases lost to an empty stock.
	OutOfStock int64 `json:"out_of_stock"`
}

// World is the simulated shop: its catalog, its visitors and their hidden
// demand. It is deterministic: the same configuration and the same prices
// give the same events. It is not safe for concurrent use.
type World struct {
	cfg       Config
	products  []Product
	index     map[string]int
	share     []float64 // traffic share per product
	byShare   aliasTable
	rngs      []rand.PCG // per product: its visitors' draws
	arrivals  *rand.Rand // when views happen, and of which product
	trends    [][]Trend  // per product, by time
	allTrends []Trend    // every trend, by time
	trendOf   []int      // the product of each of allTrends
	nextTrend int        // the first of allTrends not started
	// hot are the products whose traffic a trend changes now (isHot
	// marks them), with their weight share × boost; hotWeight is its sum.
	hot       []hotProduct
	isHot     []bool
	hotWeight float64
	prices    []float64 // the prices visitors see now
	invDyn    []int
	invStat   []int
	// restocks are the refills of sold-out products, by time.
	restocks fifo[restock]
	now      time.Duration // offset from Start
	events   uint64
	orders   uint64
	score    Score
	buf      []Event // the step's views and clicks, by time
	out      []Event // what Step returns
	// later holds the events a visit sends after its view, one queue per
	// delay (see laterDelay), each by time.
	later    [len(laterDelay)]fifo[Event]
	idPrefix string // "e<seed>-<start>-": ids of runs at other starts differ
}

type hotProduct struct {
	i      int
	weight float64
}

type restock struct {
	at     time.Duration
	i      int32
	static bool // the static-price twin's stock, else the shop's
}

// The events a visit sends after its view, and how much later.
const (
	laterCart = iota
	laterPurchase
	laterRemove
)

var laterDelay = [...]time.Duration{laterCart: 2 * time.Second, laterPurchase: 5 * time.Second, laterRemove: 20 * time.Second}

// decayed is how close to 1 a product's trend boost must come for its
// traffic to count as normal again: a millionth of its traffic, far below
// what any run could measure.
const decayed = 1e-6

var (
	referrers = []string{"search", "instagram", "direct", "email", "tiktok"}
	devices   = []string{"mobile", "mobile", "desktop", "tablet"}
)

// The second seeds of the world's random streams (the first is the
// configuration's seed): one per product (productStream | its index), the
// arrivals of views, the random trends, the catalog and the explorer (in
// Simulator), all distinct.
const (
	productStream = 1 << 62
	arrivalStream = 1<<62 - 1
	trendStream   = 0x7e4d
)

// Users are drawn from a pool of this many visitors.
const userPool = 100_000

// NewWorld returns the shop of the configuration at its start.
func NewWorld(cfg Config) (*World, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	cfg = cfg.withDefaults()
	w := &World{cfg: cfg, products: NewCatalog(cfg.Seed, cfg.Products), index: map[string]int{}}
	w.idPrefix = "e" + strconv.FormatUint(cfg.Seed, 10) + "-" + strconv.FormatInt(cfg.Start.Unix(), 36) + "-"
	total := 0.0
	for _, p := range w.products {
		total += p.popularity
	}
	n := len(w.products)
	w.share = make([]float64, n)
	w.rngs = make([]rand.PCG, n)
	w.trends = make([][]Trend, n)
	w.prices = make([]float64, n)
	w.invDyn = make([]int, n)
	w.invStat = make([]int, n)
	w.isHot = make([]bool, n)
	for i, p := range w.products {
		w.index[p.ID] = i
		w.share[i] = p.popularity / total
		w.rngs[i].Seed(cfg.Seed, productStream|uint64(i))
		w.prices[i] = p.BasePrice
		w.invDyn[i], w.invStat[i] = p.Inventory, p.Inventory
	}
	for _, t := range cfg.Trends {
		i, ok := w.index[t.Product]
		if !ok {
			return nil, fmt.Errorf("sim: trend on unknown product %q (the catalog has p00001 … p%05d)", t.Product, n)
		}
		w.trends[i] = append(w.trends[i], t.withDefaults())
	}
	if cfg.TrendsPerDay > 0 {
		// Random trends for the first 30 days, from their own stream.
		r := rand.New(rand.NewPCG(cfg.Seed, trendStream))
		at := time.Duration(0)
		for {
			at += time.Duration(r.ExpFloat64() / cfg.TrendsPerDay * float64(24*time.Hour))
			if at > 30*24*time.Hour {
				break
			}
			i := r.IntN(n)
			w.trends[i] = append(w.trends[i], Trend{Product: w.products[i].ID, At: at}.withDefaults())
		}
	}
	for i := range w.trends {
		slices.SortFunc(w.trends[i], func(a, b Trend) int { return cmp.Compare(a.At, b.At) })
		w.allTrends = append(w.allTrends, w.trends[i]...)
	}
	slices.SortFunc(w.allTrends, func(a, b Trend) int { return cmp.Compare(a.At, b.At) })
	w.trendOf = make([]int, len(w.allTrends))
	for k, t := range w.allTrends {
		w.trendOf[k] = w.index[t.Product]
	}
	w.byShare = newAliasTable(w.share)
	w.arrivals = rand.New(rand.NewPCG(cfg.Seed, arrivalStream))
	return w, nil
}

func (t Trend) withDefaults() Trend {
	if t.Boost == 0 {
		t.Boost = 50
	}
	if t.Hype == 0 {
		t.Hype = 2
	}
	if t.HalfLife == 0 {
		t.HalfLife = 20 * time.Minute
	}
	return t
}

// Products returns the catalog as the shop publishes it.
func (w *World) Products() []Product { return w.products }

// MostPopular returns the id of the product with the most traffic.
func (w *World) MostPopular() string {
	best := 0
	for i := range w.share {
		if w.share[i] > w.share[best] {
			best = i
		}
	}
	return w.products[best].ID
}

// Now returns the current simulated time.
func (w *World) Now() time.Time { return w.cfg.Start.Add(w.now) }

// Elapsed returns the simulated time since the start.
func (w *World) Elapsed() time.Duration { return w.now }

// Trends returns every trend of the run, scheduled and random, by time.
// The slice is the world's: do not change it.
func (w *World) Trends() []Trend { return w.allTrends }

// SetPrice sets the price visitors see for a product from now on.
func (w *World) SetPrice(id string, price float64) bool {
	i, ok := w.index[id]
	if ok && price > 0 {
		w.prices[i] = price
	}
	return ok
}

// Score returns the outcome so far.
func (w *World) Score() Score {
	s := w.score
	s.SimSeconds = w.now.Seconds()
	if s.RevenueStatic > 0 {
		s.UpliftPct = (s.RevenueDynamic/s.RevenueStatic - 1) * 100
	}
	return s
}

// traffic is the daily curve: quiet at 8 a.m., busiest at 8 p.m., mean 1.
func (w *World) traffic(at time.Duration) float64 {
	if w.cfg.Flat {
		return 1
	}
	h := w.cfg.Start.Add(at).Sub(w.cfg.Start.Truncate(24 * time.Hour)).Hours()
	return 1 + 0.6*math.Cos(2*math.Pi*(h-20)/24)
}

// shock returns the trend multipliers of product i at an offset.
func (w *World) shock(i int, at time.Duration) (boost, hype float64) {
	boost, hype = 1, 1
	for _, t := range w.trends[i] {
		if t.At > at {
			break
		}
		decay := math.Exp2(-float64(at-t.At) / float64(t.HalfLife))
		boost += (t.Boost - 1) * decay
		hype += (t.Hype - 1) * decay
	}
	return boost, hype
}

// Step advances the shop by d and returns the events of that time, in
// event-time order, and the orders placed. The slices are reused by the
// next Step.
//
// Its cost is proportional to the events of the step and the products a
// trend changes now, not to the catalog: the views of all products are
// one Poisson process, at the sum of their rates, and each view's product
// is drawn by its share of that sum (see the package doc).
func (w *World) Step(d time.Duration, orders []Order) ([]Event, []Order) {
	w.buf = w.buf[:0]
	from := w.now
	mid := from + d/2
	w.restock(from)
	w.heat(mid)
	// Views arrive at exponential spacings, so in time order, and as
	// many as a Poisson draw with mean the step's views; t is the share
	// of the step gone.
	views := w.cfg.ViewsPerSecond * w.traffic(mid) * d.Seconds() * (1 + w.hotWeight)
	if views > 0 {
		r := w.arrivals
		for t := r.ExpFloat64() / views; t < 1; t += r.ExpFloat64() / views {
			if i := w.pick(r.Float64() * (1 + w.hotWeight)); i >= 0 {
				orders = w.visit(i, from+time.Duration(t*float64(d)), orders)
			}
		}
	}
	w.now += d
	// A visit's later events (the cart, the purchase) are sent in the
	// step they happen in, as a shop would: sending them early would move
	// the pipeline's watermark ahead and make the next step's events late.
	end := w.cfg.Start.Add(w.now)
	runs := [1 + len(w.later)][]Event{w.buf}
	var due [len(w.later)]int
	for k := range w.later {
		q := w.later[k].items()
		due[k], _ = slices.BinarySearchFunc(q, end, func(e Event, end time.Time) int { return e.Time.Compare(end) })
		runs[1+k] = q[:due[k]]
	}
	w.out = mergeByTime(w.out[:0], runs[:])
	for k, n := range due {
		w.later[k].drop(n)
	}
	w.score.Events += int64(len(w.out))
	return w.out, orders
}

// heat starts the trends due by an offset and sets the weight of each
// product whose traffic a trend changes: share × boost. A product whose
// boost has come back to 1 is no longer hot.
func (w *World) heat(at time.Duration) {
	for ; w.nextTrend < len(w.allTrends) && w.allTrends[w.nextTrend].At <= at; w.nextTrend++ {
		if i := w.trendOf[w.nextTrend]; !w.isHot[i] {
			w.isHot[i] = true
			w.hot = append(w.hot, hotProduct{i: i})
		}
	}
	w.hotWeight = 0
	k := 0
	for _, h := range w.hot {
		boost, _ := w.shock(h.i, at)
		if math.Abs(boost-1) < decayed {
			w.isHot[h.i] = false
			continue
		}
		h.weight = w.share[h.i] * boost
		w.hotWeight += h.weight
		w.hot[k] = h
		k++
	}
	w.hot = w.hot[:k]
}

// pick returns the product of a view, for u uniform in [0, 1 +
// hotWeight), or -1 for none. Below 1 it draws a product by its share;
// a hot product drawn so gets no view there (its weight is all in the hot
// part), so that each product's chance is its share × boost over 1 +
// hotWeight, whatever its boost, below 1 as well as above.
func (w *World) pick(u float64) int {
	if u < 1 {
		if i := w.byShare.pick(u); !w.isHot[i] {
			return i
		}
		return -1
	}
	u--
	for _, h := range w.hot {
		if u < h.weight {
			return h.i
		}
		u -= h.weight
	}
	return -1 // rounding
}

// mergeByTime appends the events of runs, each in time order, to out in
// time order; of events at the same time, the earlier run's come first.
func mergeByTime(out []Event, runs [][]Event) []Event {
	for {
		best, left := -1, 0
		for k, r := range runs {
			if len(r) == 0 {
				continue
			}
			left++
			if best < 0 || r[0].Time.Before(runs[best][0].Time) {
				best = k
			}
		}
		switch left {
		case 0:
			return out
		case 1:
			return append(out, runs[best]...)
		}
		out = append(out, runs[best][0])
		runs[best] = runs[best][1:]
	}
}

// RestockAfter is how long a product stays sold out before the shop
// refills it to its starting stock.
const RestockAfter = 10 * time.Minute

// restock refills the products whose restock time has come, in each world.
// Products sell out in time order (visits are simulated in time order), so
// the queue is by restock time.
func (w *World) restock(now time.Duration) {
	q := w.restocks.items()
	n := 0
	for ; n < len(q) && q[n].at <= now; n++ {
		if i := q[n].i; q[n].static {
			w.invStat[i] = w.products[i].Inventory
		} else {
			w.invDyn[i] = w.products[i].Inventory
		}
	}
	w.restocks.drop(n)
}

// visit simulates one product view by a visitor: every random draw of the
// visit is taken up front, so the static-price twin of the shop sees the
// same visitor.
func (w *World) visit(i int, at time.Duration, orders []Order) []Order {
	r := rand.New(&w.rngs[i]) // on the stack: the stream stays in the slice
	p := &w.products[i]
	bot := r.Float64() < w.cfg.BotShare
	uClick, uIntent, uAccept, uBuy := r.Float64(), r.Float64(), r.Float64(), r.Float64()
	user := r.IntN(userPool)
	ref, dev := referrers[r.IntN(len(referrers))], devices[r.IntN(len(devices))]
	t := w.cfg.Start.Add(at)
	price := w.prices[i]
	uid := "u" + strconv.Itoa(user)
	ev := Event{ProductID: p.ID, UserID: uid, SessionID: uid + "-" + strconv.Itoa(t.YearDay()*24+t.Hour()), Price: price, Quantity: 1, Referrer: ref, Device: dev}
	if bot {
		ev.Device, ev.Referrer = "bot", "bot"
		w.emit(ev, "view", t)
		return orders
	}
	if uClick < 0.35 {
		w.emit(ev, "click", t)
	}
	w.emit(ev, "view", t)
	w.score.Views++
	_, hype := w.shock(i, at)
	intent := uIntent < w.cfg.IntentShare
	const buyShare = 0.7 // of carts
	// The static twin: the same visitor at the base price.
	if intent && uAccept < p.buyProbability(p.BasePrice, hype) && uBuy < buyShare && w.invStat[i] > 0 {
		if w.invStat[i]--; w.invStat[i] == 0 {
			w.restocks.push(restock{at: at + RestockAfter, i: int32(i), static: true})
		}
		w.score.PurchasesStatic++
		w.score.RevenueStatic += p.BasePrice
	}
	if !intent || uAccept >= p.buyProbability(price, hype) {
		return orders
	}
	w.emitLater(ev, "add_to_cart", t, laterCart)
	w.score.Carts++
	switch {
	case uBuy < buyShare && w.invDyn[i] > 0:
		if w.invDyn[i]--; w.invDyn[i] == 0 {
			w.restocks.push(restock{at: at + RestockAfter, i: int32(i)})
		}
		w.emitLater(ev, "purchase", t, laterPurchase)
		w.score.Purchases++
		w.score.RevenueDynamic += price
		w.orders++
		orders = append(orders, Order{
			OrderID:   "o" + w.idPrefix[1:] + strconv.FormatUint(w.orders, 10),
			Customer:  uid,
			Items:     []OrderItem{{ProductID: p.ID, Quantity: 1, UnitPrice: price}},
			Status:    "placed",
			CreatedAt: t.Add(laterDelay[laterPurchase]).UTC().Format(time.RFC3339Nano),
		})
	case uBuy < buyShare:
		w.score.OutOfStock++
	case uBuy > 0.9:
		w.emitLater(ev, "remove_from_cart", t, laterRemove)
	}
	return orders
}

// emit sends an event of a visit at its time t.
func (w *World) emit(ev Event, typ string, t time.Time) {
	w.events++
	ev.ID = w.idPrefix + strconv.FormatUint(w.events, 10)
	ev.Type, ev.Time = typ, t
	w.buf = append(w.buf, ev)
}

// emitLater sends an event of a visit at t the event's delay later. Visits
// are simulated in time order, so each queue stays in time order.
func (w *World) emitLater(ev Event, typ string, t time.Time, delay int) {
	w.events++
	ev.ID = w.idPrefix + strconv.FormatUint(w.events, 10)
	ev.Type, ev.Time = typ, t.Add(laterDelay[delay])
	w.later[delay].push(ev)
}
