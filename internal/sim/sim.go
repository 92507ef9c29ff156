package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"golang.org/x/sync/errgroup"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/jsonstr"
)

// Options configure a Simulator: the shop, where it sends, and how fast
// simulated time runs.
type Options struct {
	Config
	// Client reaches the pricestream server.
	Client *client.Client
	// API is how events are sent: "native" (POST /v1/streams/…/records,
	// the default) or "kinesis" (PutRecords of the Kinesis API, through
	// the AWS SDK, at BaseURL).
	API string
	// BaseURL is the server's URL, for the Kinesis API; AccessKeyID and
	// SecretAccessKey sign its requests (any values when auth is off).
	BaseURL, AccessKeyID, SecretAccessKey string
	// Stream, Products and Orders name the clicks stream and the tables.
	// Defaults "clicks", "products", "orders".
	Stream, Products, Orders string
	// OrderTTL is how long an order stays in the orders table: each order
	// carries expires_at, in seconds since the Unix epoch (the wall clock,
	// as a table's Time to Live reads it), this long after it is written.
	// Default DefaultOrderTTL; negative writes no expires_at.
	OrderTTL time.Duration
	// Speed is simulated seconds per real second. 0 runs in lockstep:
	// after each step the simulator calls Barrier and reads the prices,
	// so a run is the same for the same seed whatever the machine.
	Speed float64
	// Step is the simulated time of one step. Default 1 s in lockstep,
	// else 20 ms of real time.
	Step time.Duration
	// Duration ends the run after this much simulated time (0: when ctx
	// ends).
	Duration time.Duration
	// FineStep, when set (lockstep only), is the step for the first
	// minute of each trend, with a step boundary at its onset: a pipeline
	// that reacts within a fraction of a simulated second is then seen to.
	FineStep time.Duration
	// Barrier waits until the pipeline has taken in everything sent
	// (lockstep only); see PipelineBarrier.
	Barrier func(ctx context.Context) error
	// Explore, when positive, makes the shop set a random price within
	// each product's bounds every Explore of simulated time (aligned to
	// it), as an A/B price test does: data to train a demand model on.
	// Turn pricing off (the kill switch) while exploring.
	Explore time.Duration
	// InventoryEvery writes the stock to the products table this often,
	// in simulated time. Default 5m.
	InventoryEvery time.Duration
	// Senders is how many requests are in flight at once. Default 4.
	Senders int
	Logger  *slog.Logger
}

// Simulator drives a World against a pricestream server: it sends the
// world's events and orders, and shows its visitors the prices the
// pipeline writes to the products table.
type Simulator struct {
	o       Options
	w       *World
	kinesis *kinesis.Client
	logger  *slog.Logger

	mu       sync.Mutex // guards w's prices and score against readers
	sent     atomic.Int64
	failed   atomic.Int64
	behind   atomic.Int64 // steps that started late (real-time runs)
	explorer *rand.Rand
	written  []int // the stock last written to the products table
}

// New returns a simulator. It sends nothing until Setup or Run.
func New(o Options) (*Simulator, error) {
	if o.Client == nil {
		return nil, errors.New("sim: a client is required")
	}
	if o.Speed < 0 {
		return nil, fmt.Errorf("sim: speed must not be negative, got %g", o.Speed)
	}
	if o.Speed == 0 && o.Barrier == nil {
		return nil, errors.New("sim: lockstep (speed 0) needs a barrier")
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.API, "native")
	def(&o.Stream, "clicks")
	def(&o.Products, "products")
	def(&o.Orders, "orders")
	if o.OrderTTL == 0 {
		o.OrderTTL = DefaultOrderTTL
	}
	if o.Step == 0 {
		o.Step = time.Second
		if o.Speed > 0 {
			o.Step = max(time.Millisecond, time.Duration(float64(20*time.Millisecond)*o.Speed))
		}
	}
	if o.InventoryEvery == 0 {
		o.InventoryEvery = 5 * time.Minute
	}
	if o.Senders == 0 {
		o.Senders = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := NewWorld(o.Config)
	if err != nil {
		return nil, err
	}
	s := &Simulator{o: o, w: w, logger: o.Logger.With("component", "sim"), explorer: rand.New(rand.NewPCG(w.cfg.Seed, 0xe4b1))}
	switch o.API {
	case "native":
	case "kinesis":
		if o.BaseURL == "" {
			return nil, errors.New("sim: the kinesis API needs the server's base URL")
		}
		id, secret := o.AccessKeyID, o.SecretAccessKey
		if id == "" {
			id, secret = "sim", "sim"
		}
		s.kinesis = kinesis.New(kinesis.Options{
			BaseEndpoint: aws.String(o.BaseURL),
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		})
	default:
		return nil, fmt.Errorf("sim: api %q: want native or kinesis", o.API)
	}
	return s, nil
}

// Score returns the outcome so far; safe while Run runs.
func (s *Simulator) Score() Score {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Score()
}

// Sent returns the events accepted by the server and those it refused or
// that could not be sent.
func (s *Simulator) Sent() (accepted, failed int64) { return s.sent.Load(), s.failed.Load() }

// Setup writes the catalog to the products table: every product, at its
// base price. Products that exist keep their price.
func (s *Simulator) Setup(ctx context.Context) error {
	var puts []json.RawMessage
	flush := func() error {
		if len(puts) == 0 {
			return nil
		}
		_, err := s.o.Client.BatchWrite(ctx, s.o.Products, api.BatchRequest{Puts: puts})
		puts = puts[:0]
		return err
	}
	existing, err := s.readPrices(ctx)
	if err != nil {
		return err
	}
	for _, p := range s.w.products {
		if price, ok := existing[p.ID]; ok {
			s.w.SetPrice(p.ID, price)
			continue
		}
		b, _ := json.Marshal(map[string]any{
			"product_id": p.ID, "name": p.Name, "brand": p.Brand, "category": p.Category,
			"base_price": p.BasePrice, "price": p.BasePrice, "min_price": p.MinPrice, "max_price": p.MaxPrice,
			"inventory": p.Inventory, "price_revision": 0,
			"attributes": map[string]any{"sizes": "36-47"},
		})
		puts = append(puts, b)
		if len(puts) == 25 {
			if err := flush(); err != nil {
				return fmt.Errorf("sim: write catalog: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("sim: write catalog: %w", err)
	}
	return nil
}

// readPrices scans the products table for every product's price.
func (s *Simulator) readPrices(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	var start json.RawMessage
	for {
		page, err := s.o.Client.Scan(ctx, s.o.Products, api.ReadRequest{Projection: "product_id, price", Limit: 1000, StartKey: start, Consistent: true})
		if err != nil {
			return nil, fmt.Errorf("sim: read prices: %w", err)
		}
		for _, raw := range page.Items {
			var it struct {
				ID    string  `json:"product_id"`
				Price float64 `json:"price"`
			}
			if json.Unmarshal(raw, &it) == nil && it.ID != "" {
				out[it.ID] = it.Price
			}
		}
		if len(page.LastKey) == 0 || string(page.LastKey) == "null" {
			return out, nil
		}
		start = page.LastKey
	}
}

// Run simulates until Duration of simulated time has passed or ctx ends,
// and returns the score.
func (s *Simulator) Run(ctx context.Context) (Score, error) {
	g, ctx := errgroup.WithContext(ctx)
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	if s.o.Speed > 0 {
		g.Go(func() error { return s.followPrices(followCtx) })
	}
	g.Go(func() error {
		defer stopFollowing() // once the run is over
		return s.loop(ctx)
	})
	err := g.Wait()
	if errors.Is(err, errDone) || (err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		err = nil
	}
	return s.Score(), err
}

var errDone = errors.New("sim: done")

// stepsInFlight is how many steps' events and orders a simulator running
// in real time sends at once: a shop's many visitors do not wait for each
// other's requests, so a step does not wait for the previous one's
// answers. A sender that waits slows down exactly when the pipeline does,
// which hides those moments from the latency it measures (coordinated
// omission), and with fsync before every acknowledgement (a put takes a
// few milliseconds) steps of 10 ms sent one after another fell behind.
const stepsInFlight = 16

// DefaultOrderTTL is how long the simulated shop keeps an order in the
// orders table: the pricing pipeline reads orders from the table's change
// stream as they are placed (the sales job's hour-long sums are its own
// state), so the orders table needs to hold none for long, and ten minutes
// of them bound what its index holds in memory (at the bench's 10,000
// events a second the shop places about 900 orders a second: some 540,000
// items, ~290 MB, where an hour's were 1.7 GB).
const DefaultOrderTTL = 10 * time.Minute

func (s *Simulator) loop(ctx context.Context) (err error) {
	var orders []Order
	start := time.Now()
	nextInventory, nextExplore := s.o.InventoryEvery, time.Duration(0)
	// In real time a step's sends run in the background, up to
	// stepsInFlight steps; in lockstep (Speed 0) they finish before the
	// barrier.
	sends, sctx := errgroup.WithContext(ctx)
	sends.SetLimit(stepsInFlight)
	defer func() {
		if serr := sends.Wait(); serr != nil && (err == nil || errors.Is(err, errDone)) && ctx.Err() == nil {
			err = serr
		}
	}()
	for step := 0; ; step++ {
		if ctx.Err() != nil {
			return errDone
		}
		if sctx.Err() != nil {
			return sends.Wait()
		}
		if s.o.Duration > 0 && s.w.Elapsed() >= s.o.Duration {
			return errDone
		}
		if s.o.Explore > 0 && s.w.Elapsed() >= nextExplore {
			if err := s.explore(ctx); err != nil {
				return err
			}
			nextExplore += s.o.Explore
		}
		s.mu.Lock()
		var events []Event
		events, orders = s.w.Step(s.stepAt(s.w.Elapsed()), orders[:0])
		s.mu.Unlock()
		if s.o.Speed > 0 {
			// The next Step reuses both slices.
			evs, ords := slices.Clone(events), slices.Clone(orders)
			sends.Go(func() error {
				if err := s.send(sctx, evs); err != nil {
					return err
				}
				return s.writeOrders(sctx, ords)
			})
		} else {
			if err := s.send(ctx, events); err != nil {
				return err
			}
			if err := s.writeOrders(ctx, orders); err != nil {
				return err
			}
		}
		if s.w.Elapsed() >= nextInventory {
			if err := s.writeInventory(ctx); err != nil {
				return err
			}
			nextInventory += s.o.InventoryEvery
		}
		if s.o.Speed == 0 {
			if err := s.o.Barrier(ctx); err != nil {
				return fmt.Errorf("sim: waiting for the pipeline: %w", err)
			}
			prices, err := s.readPrices(ctx)
			if err != nil {
				return err
			}
			s.mu.Lock()
			for id, p := range prices {
				s.w.SetPrice(id, p)
			}
			s.mu.Unlock()
			continue
		}
		// Real time: the next step starts when its simulated time is due.
		due := start.Add(time.Duration(float64(s.w.Elapsed()) / s.o.Speed))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return errDone
			case <-t.C:
			}
		} else if wait < -time.Second {
			s.behind.Add(1)
		}
	}
}

// stepAt returns the length of the step that starts at an offset.
func (s *Simulator) stepAt(at time.Duration) time.Duration {
	step := s.o.Step
	if s.o.FineStep <= 0 || s.o.Speed > 0 {
		return step
	}
	const fine = time.Minute
	for _, t := range s.w.Trends() {
		switch {
		case at >= t.At && at < t.At+fine:
			return min(s.o.FineStep, t.At+fine-at)
		case t.At > at && t.At < at+step:
			step = t.At - at // end the step at the onset
		}
	}
	return step
}

// send sends a step's events, in batches of up to 500 records, several
// at once. Records the server throttles are sent again.
func (s *Simulator) send(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.o.Senders)
	for from := 0; from < len(events); from += 500 {
		batch := events[from:min(from+500, len(events))]
		g.Go(func() error { return s.sendBatch(gctx, batch) })
	}
	return g.Wait()
}

// eventJSONSize is a little more than the length of an event's JSON
// (220–235 bytes for the simulator's events).
const eventJSONSize = 256

func (s *Simulator) sendBatch(ctx context.Context, events []Event) error {
	data := make([][]byte, len(events))
	keys := make([]string, len(events))
	// The events' JSON in one buffer, sized for events of the usual
	// length (a slice each grew from empty: allocation of the order of
	// the pipeline's per event), sliced once it has stopped growing.
	buf := make([]byte, 0, len(events)*eventJSONSize)
	ends := make([]int, len(events))
	for i := range events {
		buf = events[i].AppendJSON(buf)
		ends[i] = len(buf)
		keys[i] = events[i].ProductID
	}
	start := 0
	for i := range events {
		data[i], start = buf[start:ends[i]:ends[i]], ends[i]
	}
	backoff := 5 * time.Millisecond
	for attempt := 0; len(data) > 0; attempt++ {
		failedData, failedKeys, err := s.put(ctx, data, keys)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if attempt >= 8 {
				s.failed.Add(int64(len(data)))
				s.logger.Warn("events not sent", "count", len(data), "err", err)
				return nil
			}
			failedData, failedKeys = data, keys
		}
		s.sent.Add(int64(len(data) - len(failedData)))
		data, keys = failedData, failedKeys
		if len(data) == 0 {
			return nil
		}
		if attempt >= 8 {
			s.failed.Add(int64(len(data)))
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
	return nil
}

// put sends one batch and returns the records that failed.
func (s *Simulator) put(ctx context.Context, data [][]byte, keys []string) ([][]byte, []string, error) {
	var fd [][]byte
	var fk []string
	if s.kinesis != nil {
		in := &kinesis.PutRecordsInput{StreamName: aws.String(s.o.Stream)}
		for i := range data {
			in.Records = append(in.Records, ktypes.PutRecordsRequestEntry{Data: data[i], PartitionKey: aws.String(keys[i])})
		}
		out, err := s.kinesis.PutRecords(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				fd, fk = append(fd, data[i]), append(fk, keys[i])
			}
		}
		return fd, fk, nil
	}
	res, err := s.o.Client.PutRaw(ctx, s.o.Stream, appendPutBody(make([]byte, 0, putBodySize(data, keys)), data, keys))
	if err != nil {
		return nil, nil, err
	}
	for i, r := range res.Records {
		if r.ErrorCode != "" {
			fd, fk = append(fd, data[i]), append(fk, keys[i])
		}
	}
	return fd, fk, nil
}

// appendPutBody appends the native API's put body (api.PutRequest's JSON)
// of the records data (each a JSON value, as Event.AppendJSON writes it)
// keyed by keys. Encoding the request with encoding/json checked and
// compacted every record's bytes again: ~3% of the bench's CPU, the
// simulator sharing the machine with the pipeline.
func appendPutBody(dst []byte, data [][]byte, keys []string) []byte {
	dst = append(dst, `{"records":[`...)
	for i := range data {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"partition_key":`...)
		dst = jsonstr.Append(dst, keys[i])
		dst = append(dst, `,"data":`...)
		dst = append(dst, data[i]...)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// putBodySize is the size of appendPutBody's body when no key needs
// escaping: a buffer of it is filled without growing (growing it from
// empty allocated about twice the body, ~6% of the bench's allocation).
func putBodySize(data [][]byte, keys []string) int {
	n := len(`{"records":[]}`) + max(len(data)-1, 0) // the commas between records
	for i := range data {
		n += len(`{"partition_key":"","data":}`) + len(keys[i]) + len(data[i])
	}
	return n
}

// writeOrders writes a step's orders to the orders table, 25 at a time.
func (s *Simulator) writeOrders(ctx context.Context, orders []Order) error {
	var expires int64
	if s.o.OrderTTL > 0 {
		expires = time.Now().Add(s.o.OrderTTL).Unix()
	}
	for from := 0; from < len(orders); from += 25 {
		var puts []json.RawMessage
		for _, o := range orders[from:min(from+25, len(orders))] {
			o.ExpiresAt = expires
			b, _ := json.Marshal(o)
			puts = append(puts, b)
		}
		if _, err := s.o.Client.BatchWrite(ctx, s.o.Orders, api.BatchRequest{Puts: puts}); err != nil {
			return fmt.Errorf("sim: write orders: %w", err)
		}
	}
	return nil
}

// writeInventory writes the stock of products whose stock changed.
func (s *Simulator) writeInventory(ctx context.Context) error {
	if s.written == nil {
		s.written = make([]int, len(s.w.products))
		for i, p := range s.w.products {
			s.written[i] = p.Inventory
		}
	}
	for i, p := range s.w.products {
		s.mu.Lock()
		inv := s.w.invDyn[i]
		s.mu.Unlock()
		if inv == s.written[i] {
			continue
		}
		s.written[i] = inv
		req := api.ItemRequest{Update: "SET inventory = :v", Values: json.RawMessage(`{":v":` + strconv.Itoa(inv) + `}`)}
		if _, err := s.o.Client.UpdateItem(ctx, s.o.Products, req, p.ID); err != nil {
			return fmt.Errorf("sim: write inventory of %s: %w", p.ID, err)
		}
	}
	return nil
}

// explore sets a random price within its bounds for every product.
func (s *Simulator) explore(ctx context.Context) error {
	for _, p := range s.w.products {
		price := roundCents(p.MinPrice + s.explorer.Float64()*(p.MaxPrice-p.MinPrice))
		req := api.ItemRequest{Update: "SET price = :p", Values: json.RawMessage(`{":p":` + strconv.FormatFloat(price, 'f', 2, 64) + `}`)}
		if _, err := s.o.Client.UpdateItem(ctx, s.o.Products, req, p.ID); err != nil {
			return fmt.Errorf("sim: explore price of %s: %w", p.ID, err)
		}
		s.mu.Lock()
		s.w.SetPrice(p.ID, price)
		s.mu.Unlock()
	}
	return nil
}

// followPrices keeps the visitors' prices current from the products
// table's change stream (real-time runs).
func (s *Simulator) followPrices(ctx context.Context) error {
	for ctx.Err() == nil {
		// The shop shows the price: the server sends (and decodes) no
		// other attribute of the products' changes.
		err := s.o.Client.TailChanges(ctx, s.o.Products, "latest", func(ch *api.ChangeJSON) error {
			if len(ch.New) == 0 {
				return nil
			}
			var it struct {
				ID    string  `json:"product_id"`
				Price float64 `json:"price"`
			}
			if json.Unmarshal(ch.New, &it) == nil && it.ID != "" {
				s.mu.Lock()
				s.w.SetPrice(it.ID, it.Price)
				s.mu.Unlock()
			}
			return nil
		}, "product_id", "price")
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("following prices failed; again", "err", err)
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
	return nil
}
