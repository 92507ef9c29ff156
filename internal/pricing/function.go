package pricing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

// FunctionName is the name the pricing function is registered under for
// triggers ("go:pricing").
const FunctionName = "pricing"

// Config configures pricing. A zero field means its default.
type Config struct {
	// Endpoint is the model endpoint asked for expected units. Default
	// "pricing".
	Endpoint string `yaml:"endpoint" json:"endpoint"`
	// Products is the table of products whose prices are written. Default
	// "products".
	Products string `yaml:"products" json:"products"`
	// Changes is the stream every decision is recorded on. Default
	// "price_changes".
	Changes string `yaml:"changes" json:"changes"`
	// PriceFeature and RatioFeature name the model inputs that carry the
	// candidate price and its ratio to the base price. Defaults "price"
	// and "price_ratio".
	PriceFeature string `yaml:"price_feature" json:"price_feature"`
	RatioFeature string `yaml:"ratio_feature" json:"ratio_feature"`
	// MaxStepPct bounds one change, in percent. Default 10.
	MaxStepPct float64 `yaml:"max_step_pct" json:"max_step_pct"`
	// Cooldown is the least event time between changes of a product.
	// Default 30s.
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"`
	// MaxChangesPerHour bounds changes of a product per hour of event
	// time. Default 12.
	MaxChangesPerHour int `yaml:"max_changes_per_hour" json:"max_changes_per_hour"`
	// MinGainPct is the least expected revenue gain, in percent, for a
	// change. Default 3: below that, noise in the features makes a price
	// flap up and down by a few percent.
	MinGainPct float64 `yaml:"min_gain_pct" json:"min_gain_pct"`
	// Candidates is the number of prices evaluated per decision. Default 9.
	Candidates int `yaml:"candidates" json:"candidates"`
	// Concurrency is how many products of one invocation have their price
	// changes written at once (each product's rows in order); decisions
	// that write nothing are made one after another in the invocation's
	// goroutine. Default 16: a decision waits for its price write, so
	// writing the changes of a batch one after another makes the last
	// wait for all the writes before it.
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// Features, when set, are the features row's attributes a decision
	// reads and records besides product_id, its times and the deployed
	// model's inputs, which come along whatever this says: the pricing
	// trigger then decodes only these and the model's inputs of each
	// features change ([Pricer.ImageAttrs]), and the decision record's
	// features hold those of them the row has as numbers. A model
	// deployed later with other inputs makes the trigger read the rows
	// again with them ([trigger.ErrReread]). Default empty: the whole row,
	// and the record's features hold every numeric attribute of it.
	Features []string `yaml:"features" json:"features"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Endpoint, "pricing")
	def(&c.Products, "products")
	def(&c.Changes, "price_changes")
	def(&c.PriceFeature, "price")
	def(&c.RatioFeature, "price_ratio")
	if c.MaxStepPct == 0 {
		c.MaxStepPct = 10
	}
	if c.Cooldown == 0 {
		c.Cooldown = 30 * time.Second
	}
	if c.MaxChangesPerHour == 0 {
		c.MaxChangesPerHour = 12
	}
	if c.MinGainPct == 0 {
		c.MinGainPct = 3
	}
	if c.Candidates == 0 {
		c.Candidates = 9
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	return c
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.MaxStepPct < 0 || c.MaxStepPct > 100 {
		errs = append(errs, fmt.Errorf("%s.max_step_pct: must be 0-100, got %g", prefix, c.MaxStepPct))
	}
	if c.Cooldown < 0 || c.MaxChangesPerHour < 0 || c.MinGainPct < 0 {
		errs = append(errs, fmt.Errorf("%s: cooldown, max_changes_per_hour and min_gain_pct must not be negative", prefix))
	}
	if c.Candidates < 0 || c.Candidates > 101 {
		errs = append(errs, fmt.Errorf("%s.candidates: must be 2-101, got %d", prefix, c.Candidates))
	}
	if c.Concurrency < 0 || c.Concurrency > 1024 {
		errs = append(errs, fmt.Errorf("%s.concurrency: must be 1-1024, got %d", prefix, c.Concurrency))
	}
	for i, f := range c.Features {
		if f == "" {
			errs = append(errs, fmt.Errorf("%s.features[%d]: must not be empty", prefix, i))
		}
	}
	return errors.Join(errs...)
}

// Predictor predicts one row: an in-process model endpoint or a remote one.
type Predictor interface {
	Predict(ctx context.Context, f model.Features) (model.Prediction, error)
}

// featureLister is the optional capability of a Predictor that knows its
// inputs in row order (an in-process endpoint does).
type featureLister interface {
	Features() []model.Feature
}

// alongPredictor is the optional capability of a Predictor that predicts
// one row at many values of one feature in one request (an in-process
// endpoint does; see [model.Routing.PredictAlong]). The policy's candidate
// prices for a product are such rows.
type alongPredictor interface {
	PredictAlong(ctx context.Context, a model.Along, out []float64) (model.BatchResult, error)
}

var _ alongPredictor = (*model.Endpoint)(nil)

// Deps are the pricing function's dependencies.
type Deps struct {
	Tables  *table.Manager
	Streams *stream.Manager
	// Predictors returns the predictor of a named endpoint.
	Predictors func(name string) (Predictor, error)
	Controls   *Controls
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Pricer is the pricing function: register it for triggers on the pricing
// features table's change stream.
type Pricer struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	products *table.Table
	changes  *stream.Stream

	// project: cfg.Features is set, so the pricing trigger decodes only
	// what ImageAttrs names of each features row.
	project bool

	// inModify makes every decision inside Modify, from the whole item
	// (tests compare the two paths).
	inModify bool
	// beforeApply, when set (by tests), runs between a price change's
	// decision and its write.
	beforeApply func()

	// stored counts the decision records stored; synced is what stored
	// was when the last sync that finished began (both only grow).
	stored, synced atomic.Int64

	// handled maps a product to the ReadAfter of the trigger's reading in
	// which its last applied decision is known to be recorded (or to be
	// on its way, or to be recorded again when its row is replayed); see
	// unrecorded.
	handled struct {
		sync.Mutex
		m map[string]string
	}

	// features is how many features the last decision recorded.
	features atomic.Int32

	// recordBufs holds the buffers a batch's decision records are encoded
	// into, back once the records are stored: grown per batch, they were
	// a sixteenth of the pipeline's allocation.
	recordBufs sync.Pool
}

// Attributes of a features row that the pricing function reads whatever
// Config.Features says.
const (
	rowProductID     = "product_id"
	rowLastEventTime = "last_event_time"
	rowWindowEnd     = "window_end"
	rowIngestTime    = "ingest_time"
)

var _ trigger.ImageProjector = (*Pricer)(nil)

// ImageAttrs returns the attributes of a features row the pricing function
// reads: product_id, last_event_time, window_end, ingest_time,
// Config.Features and the inputs of the model the endpoint serves now; or
// nil (the whole row) when Config.Features is empty, since a decision's
// record then holds every numeric attribute. A trigger on the features
// table decodes only these of each change, and asks again each time it
// opens the table's change stream.
func (p *Pricer) ImageAttrs() []string {
	if !p.project {
		return nil
	}
	names := append([]string{rowProductID, rowLastEventTime, rowWindowEnd, rowIngestTime}, p.cfg.Features...)
	if pred, err := p.deps.Predictors(p.cfg.Endpoint); err == nil {
		p.eachInput(pred, func(name string) { names = append(names, name) })
	}
	return names
}

// eachInput calls fn with each model input a decision reads from the
// features row: the predictor's features but the two the policy fills in
// (none when the predictor does not list its features).
func (p *Pricer) eachInput(pred Predictor, fn func(name string)) {
	fl, ok := pred.(featureLister)
	if !ok {
		return
	}
	for _, f := range fl.Features() {
		if f.Name != p.cfg.PriceFeature && f.Name != p.cfg.RatioFeature {
			fn(f.Name)
		}
	}
}

// missingInput returns a model input that a projected features row was
// decoded without ("" when none is: the row is whole, or has them all).
func (p *Pricer) missingInput(pred Predictor, projected []string) (missing string) {
	if projected == nil {
		return ""
	}
	p.eachInput(pred, func(name string) {
		if _, found := slices.BinarySearch(projected, name); !found && missing == "" {
			missing = name
		}
	})
	return missing
}

// guardAttrs are the products' attributes the guardrails read, and those
// a decision recorded again reads (see unrecorded).
var guardAttrs = []string{attrPrice, attrMin, attrMax, attrChangeTimes, attrDecision, attrPrevious, attrUpdatedAt}

// guardrails are the configured guardrails with the item's price bounds.
func (p *Pricer) guardrails(cur item.Item) Guardrails {
	g := Guardrails{MaxStepPct: p.cfg.MaxStepPct, Cooldown: p.cfg.Cooldown, MaxChangesPerHour: p.cfg.MaxChangesPerHour}
	g.MinPrice, _ = num(cur, attrMin)
	g.MaxPrice, _ = num(cur, attrMax)
	return g
}

// changeTimes are the event times of the item's price changes of the last
// hour, oldest first.
func changeTimes(cur item.Item) []time.Time {
	var changes []time.Time
	if l, ok := cur[attrChangeTimes]; ok && l.Type() == item.L {
		for _, v := range l.L() {
			if ms, ok := v.N().Int64(); ok && v.Type() == item.N {
				changes = append(changes, time.UnixMilli(ms))
			}
		}
	}
	return changes
}

var _ trigger.Function = (*Pricer)(nil)

// New returns the pricing function. It starts no goroutines.
func New(cfg Config, deps Deps) (*Pricer, error) {
	if err := cfg.Validate("pricing"); err != nil {
		return nil, err
	}
	if deps.Tables == nil || deps.Streams == nil || deps.Predictors == nil {
		return nil, errors.New("pricing: tables, streams and predictors are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	p := &Pricer{cfg: cfg.withDefaults(), deps: deps, logger: deps.Logger.With("component", "pricing"), metrics: newMetrics(deps.Registerer)}
	if len(cfg.Features) > 0 {
		p.cfg.Features = slices.Clone(cfg.Features)
		p.project = true
	}
	return p, nil
}

func (p *Pricer) open(ctx context.Context) (*table.Table, *stream.Stream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.products == nil {
		t, err := p.deps.Tables.Open(ctx, p.cfg.Products)
		if err != nil {
			return nil, nil, fmt.Errorf("pricing: products table %q: %w", p.cfg.Products, err)
		}
		p.products = t
	}
	if p.changes == nil {
		s, err := p.deps.Streams.Open(ctx, p.cfg.Changes)
		if err != nil {
			return nil, nil, fmt.Errorf("pricing: changes stream %q: %w", p.cfg.Changes, err)
		}
		p.changes = s
	}
	return p.products, p.changes, nil
}

// Invoke prices each features row of the batch, in order. An error that a
// retry may cure (the engine, an unreachable table) fails the record and
// those after it (as a partial batch failure), so the trigger retries
// them; decisions already applied are not applied again.
func (p *Pricer) Invoke(ctx context.Context, b *trigger.Batch) (trigger.Response, error) {
	products, changes, err := p.open(ctx)
	if err != nil {
		return trigger.Response{}, err
	}
	if p.project {
		// Rows decoded before the endpoint's model changed may lack one of
		// its inputs: have the trigger read them again with it (ImageAttrs
		// names it now) rather than price from a missing input.
		if pred, err := p.deps.Predictors(p.cfg.Endpoint); err == nil {
			for _, r := range b.Records {
				if r.Change == nil {
					continue
				}
				if n := p.missingInput(pred, r.Change.Projected); n != "" {
					p.logger.Info("the model's inputs changed: reading the features rows again with them", "input", n)
					return trigger.Response{}, fmt.Errorf("pricing: features row decoded without model input %q: %w", n, trigger.ErrReread)
				}
			}
		}
	}
	// The batch's decisions are recorded with one append (one engine
	// write, not one per record); a record whose decision is not recorded
	// fails, and so is priced again (idempotently) and recorded then.
	// Products are priced concurrently, the rows of each in order; the
	// decisions are recorded in the batch's order, up to the first record
	// that failed (the trigger delivers it and every later one again).
	// The append is submitted here and awaited by the response's
	// Complete: the trigger's lane prices its next batch meanwhile, and
	// counts this one done only once its decisions are stored (if they
	// are not, it delivers the rows again and the decisions applied are
	// recorded then).
	decided := make([]*DecisionRecord, len(b.Records))
	again := make([]*DecisionRecord, len(b.Records))
	errs := make([]error, len(b.Records))
	// A decision is made here; a price change's write waits for fn, which
	// writes the changes of several products at once.
	changing := make([]*decision, len(b.Records))
	quick := func(i int, r *trigger.Record) (done, ok bool) {
		if r.Change == nil || r.Change.NewImage == nil {
			return true, true // a removed features row prices nothing
		}
		if changing[i], decided[i], again[i], errs[i] = p.prepare(ctx, products, r); changing[i] != nil {
			return false, true
		}
		return true, errs[i] == nil
	}
	p.each(b.Records, quick, func(i int, r *trigger.Record) bool {
		switch {
		case changing[i] != nil:
			decided[i], again[i], errs[i] = p.apply(ctx, products, changing[i])
		case r.Change != nil && r.Change.NewImage != nil:
			decided[i], again[i], errs[i] = p.price(ctx, products, r)
		}
		return errs[i] == nil
	})
	var recs []*DecisionRecord
	var failed string
	var handled []*trigger.Record // rows whose again record goes out
	var first string              // the row of the first record
	for i, r := range b.Records {
		if errs[i] != nil {
			p.metrics.errors.Inc()
			p.logger.Warn("pricing failed; the trigger retries", "seq", r.SequenceNumber, "err", errs[i])
			failed = r.SequenceNumber
			break
		}
		if again[i] != nil {
			recs = append(recs, again[i])
			handled = append(handled, r)
			p.metrics.recordedAgain.Inc()
		}
		if decided[i] != nil {
			recs = append(recs, decided[i])
		}
		if len(recs) > 0 && first == "" {
			first = r.SequenceNumber
		}
	}
	var resp trigger.Response
	if len(recs) > 0 {
		a, buf, err := p.record(changes, recs)
		if err != nil {
			// Fail from the first decision not recorded.
			return trigger.Response{BatchItemFailures: []trigger.BatchItemFailure{{ItemIdentifier: first}}}, nil
		}
		resp.Complete = func(ctx context.Context) error {
			done, err := p.recorded(ctx, a, recs)
			if done && buf != nil {
				// The stream is done with the records: their buffer
				// is the next batch's (once: a second call finds nil).
				if cap(*buf) <= maxRecordBuf {
					p.recordBufs.Put(buf)
				}
				buf = nil
			}
			if err == nil {
				for _, r := range handled {
					p.handle(r.Change.NewImage[rowProductID].S(), r.ReadAfter)
				}
			}
			return err
		}
	}
	if failed != "" {
		resp.BatchItemFailures = []trigger.BatchItemFailure{{ItemIdentifier: failed}}
	}
	return resp, nil
}

// DecisionRecord is what the price-changes stream holds for a decision.
type DecisionRecord struct {
	// DecisionID identifies the decision: the features change it was made
	// for. A record may be delivered more than once; dedupe on it.
	DecisionID string `json:"decision_id"`
	ProductID  string `json:"product_id"`
	// Action is "applied" (the price changed), "kept" (the best price is
	// the current one, or the gain is too small) or "refused" (a guardrail
	// or switch stopped it, or the model failed).
	Action          string             `json:"action"`
	Reason          string             `json:"reason,omitempty"`
	OldPrice        float64            `json:"old_price"`
	NewPrice        float64            `json:"new_price"`
	ExpectedUnits   float64            `json:"expected_units,omitempty"`
	ExpectedRevenue float64            `json:"expected_revenue,omitempty"`
	CurrentRevenue  float64            `json:"current_revenue,omitempty"`
	Model           string             `json:"model,omitempty"`
	ModelVersion    int                `json:"model_version,omitempty"`
	Variant         string             `json:"variant,omitempty"`
	Fallback        bool               `json:"fallback,omitempty"`
	Features        map[string]float64 `json:"features"`
	MinPrice        float64            `json:"min_price,omitempty"`
	MaxPrice        float64            `json:"max_price,omitempty"`
	EventTime       time.Time          `json:"event_time"`
	IngestTime      time.Time          `json:"ingest_time,omitzero"`
	DecidedAt       time.Time          `json:"decided_at"`
	// E2EMillis is the end-to-end latency of an applied change: from the
	// ingest of the newest event the features reflect to the price commit.
	E2EMillis float64 `json:"e2e_latency_ms,omitempty"`
	// RecordedAgain marks the record of a change applied before, written
	// again from what the product keeps of it: its features row was
	// delivered again, or a crash lost the record (see [Pricer.Invoke]).
	// It has the change's prices, model, features and expected revenue,
	// not its end-to-end latency, whose commit time was not kept. The
	// first record of the decision may exist too: dedupe on DecisionID.
	RecordedAgain bool `json:"recorded_again,omitempty"`
}

// errRefused carries a guardrail refusal out of a table write.
type errRefused struct{ reason string }

// each calls fn for every record, the records of one product in order and
// up to Concurrency products at once; it stops calling fn for a product
// after fn returned false for one of its records.
//
// quick, when not nil, is tried first on each record, in the caller's
// goroutine, for the records that need not wait: it returns done (the
// record is handled, fn is not called for it) and ok (false: stop the
// product's records, as fn returning false does). A product's records from
// the first quick did not finish go to fn, concurrently with the other
// products' only when more than one product has such records. Most
// decisions write nothing (refused by the cooldown, or keeping the price)
// and take microseconds: a helper goroutine for each product of each
// batch cost more than the decisions, and a change's way to its write
// waited for the helpers to be scheduled.
func (p *Pricer) each(recs []*trigger.Record, quick func(i int, r *trigger.Record) (done, ok bool), fn func(i int, r *trigger.Record) bool) {
	// Group by key (the features row's key, the product), in batch order.
	var groups [][]int
	if p.cfg.Concurrency > 1 && len(recs) > 1 {
		index := make(map[string]int, len(recs))
		for i, r := range recs {
			g, ok := index[r.Key]
			if !ok {
				g = len(groups)
				index[r.Key] = g
				groups = append(groups, nil)
			}
			groups[g] = append(groups[g], i)
		}
	} else {
		groups = [][]int{make([]int, len(recs))} // one at a time, in batch order
		for i := range recs {
			groups[0][i] = i
		}
	}
	if quick != nil {
		left := groups[:0]
	group:
		for _, g := range groups {
			for j, i := range g {
				done, ok := quick(i, recs[i])
				if !ok {
					continue group
				}
				if !done {
					left = append(left, g[j:])
					continue group
				}
			}
		}
		groups = left
	}
	run := func(g []int) {
		for _, i := range g {
			if !fn(i, recs[i]) {
				return
			}
		}
	}
	if len(groups) <= 1 || p.cfg.Concurrency <= 1 {
		for _, g := range groups {
			run(g)
		}
		return
	}
	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(p.cfg.Concurrency, len(groups)) {
		wg.Go(func() {
			for g := range work {
				run(g)
			}
		})
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
}

func (e *errRefused) Error() string { return "pricing: refused: " + e.reason }

// errDuplicate means the features row was priced already.
var errDuplicate = errors.New("pricing: decision already applied")

// Product attributes the pricing function maintains.
const (
	attrPrice       = "price"
	attrBase        = "base_price"
	attrMin         = "min_price"
	attrMax         = "max_price"
	attrRevision    = "price_revision"
	attrUpdatedAt   = "price_updated_at"   // event time of the last change, Unix ms
	attrChangeTimes = "price_change_times" // event times of the changes of the last hour, Unix ms
	attrDecision    = "price_decision"     // the decision id of the last change
	attrPrevious    = "price_previous"     // the price before the last change
	attrDecided     = "price_decided_with" // what the last change was decided with (decidedWith)
)

func num(it item.Item, name string) (float64, bool) {
	v, ok := it[name]
	if !ok || v.Type() != item.N {
		return 0, false
	}
	return v.N().Float64(), true
}

func timeAttr(it item.Item, name string) (time.Time, bool) {
	v, ok := it[name]
	if !ok {
		return time.Time{}, false
	}
	switch v.Type() {
	case item.S:
		t, err := time.Parse(time.RFC3339Nano, v.S())
		return t, err == nil
	case item.N:
		ms, ok := v.N().Int64()
		return time.UnixMilli(ms).UTC(), ok
	}
	return time.Time{}, false
}

// ceilMillis is t in Unix milliseconds, rounded up: a change time stored
// so never lets the cooldown end early, even by less than a millisecond.
func ceilMillis(t time.Time) int64 {
	return (t.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
}

func priceValue(v float64) item.Value {
	n, _ := item.ParseNumber(strconv.FormatFloat(roundCents(v), 'f', 2, 64))
	return item.NumberValue(n)
}

// seqNumber turns a change's sequence number into a number to compare.
func seqNumber(s string) (item.Number, error) { return item.ParseNumber(s) }

// price decides for one features row and applies the decision. It returns
// the record of the decision, or nil for a row that was priced before
// (whose record is then emitted again from what the product remembers);
// and the record of the product's last applied decision when that may not
// have been recorded (see unrecorded), to be recorded first.
func (p *Pricer) price(ctx context.Context, products *table.Table, r *trigger.Record) (*DecisionRecord, *DecisionRecord, error) {
	d, rec, again, err := p.prepare(ctx, products, r)
	if d == nil {
		return rec, again, err
	}
	return p.apply(ctx, products, d)
}

// decision is a features row's price change, decided from the product's
// attributes and not yet written (see prepare).
type decision struct {
	r         *trigger.Record
	rec       *DecisionRecord
	again     *DecisionRecord
	pred      Predictor
	key       item.Key
	seq       item.Number
	start     time.Time
	dec       Decision
	changes   []time.Time
	predicted model.Prediction
	decided   item.Item // the attributes dec was decided from; nil: none yet
}

// prepare decides for one features row without writing: a decision that
// changes no price (most are refused by the cooldown or keep the price)
// ends here and its records are returned as price returns them; a price
// change comes back as a decision for apply to write. It writes nothing,
// and waits only for the products' index to hold this process's writes
// (GetAttrs) and, seldom, for a read of the product's whole item.
func (p *Pricer) prepare(ctx context.Context, products *table.Table, r *trigger.Record) (*decision, *DecisionRecord, *DecisionRecord, error) {
	start := time.Now()
	var again *DecisionRecord
	row := r.Change.NewImage
	pid, ok := row[rowProductID]
	if !ok || pid.Type() != item.S {
		p.metrics.decisions.WithLabelValues("refused", ReasonBadFeature).Inc()
		return nil, nil, again, nil
	}
	pred, predErr := p.deps.Predictors(p.cfg.Endpoint)
	// The map sized for as many features as the last decision had: grown
	// from empty it was allocated three times over.
	rec := &DecisionRecord{DecisionID: r.SequenceNumber, ProductID: pid.S(), DecidedAt: start.UTC(), Features: make(map[string]float64, p.features.Load())}
	if !p.project {
		for name, v := range row {
			if v.Type() == item.N {
				rec.Features[name] = v.N().Float64()
			}
		}
	} else {
		for _, name := range p.cfg.Features {
			if v, ok := row[name]; ok && v.Type() == item.N {
				rec.Features[name] = v.N().Float64()
			}
		}
		if predErr == nil {
			p.eachInput(pred, func(name string) {
				if v, ok := row[name]; ok && v.Type() == item.N {
					rec.Features[name] = v.N().Float64()
				}
			})
		}
	}
	p.features.Store(int32(len(rec.Features)))
	rec.EventTime, ok = timeAttr(row, rowLastEventTime)
	if !ok {
		if rec.EventTime, ok = timeAttr(row, rowWindowEnd); !ok {
			rec.EventTime = r.Arrival
		}
	}
	rec.IngestTime, _ = timeAttr(row, rowIngestTime)
	seq, err := seqNumber(r.SequenceNumber)
	if err != nil {
		return nil, nil, again, fmt.Errorf("pricing: decision id %q: %w", r.SequenceNumber, err)
	}
	if why := p.deps.Controls.Blocked(rec.ProductID); why != "" {
		return nil, p.refuse(rec, why, nil), again, nil
	}
	if predErr != nil {
		return nil, p.refuse(rec, ReasonModel, predErr), again, nil
	}
	key, err := products.ParseKey(item.Item{"product_id": pid})
	if err != nil {
		return nil, p.refuse(rec, ReasonNoProduct, err), again, nil
	}
	// A decision is made from the product's guardrail attributes and base
	// price (decideAttrs), read without decoding the whole item: most are
	// refused by the cooldown or keep the price, and those write nothing.
	// Such a decision stands as one Modify would make: Modify reads the
	// item as of the same point (this process's writes to it indexed), and
	// writing nothing, it would not check that the item stayed so either.
	// Only a change goes through Modify, which applies it when the item
	// still holds the attributes it was decided from, and decides again
	// from the whole item otherwise.
	d := &decision{r: r, rec: rec, pred: pred, key: key, seq: seq, start: start}
	apply := true
	if !p.inModify {
		var cur item.Item
		if cur, err = products.GetAttrs(ctx, key, decideAttrs); err != nil {
			return nil, nil, again, err
		}
		if d.again = p.unrecorded(r, rec.ProductID, cur, seq); d.again != nil {
			// cur holds decideAttrs only: read what the change was
			// decided with too (seldom: once per product after a resume).
			if err := p.completeAgain(ctx, products, key, d.again); err != nil {
				return nil, nil, nil, err
			}
		}
		d.dec, d.changes, err = p.decide(ctx, pred, r, cur, rec, seq, &d.predicted)
		if apply = err == nil && d.dec.Change; apply {
			d.decided = cur
		}
	}
	if !apply {
		rec, again, err := p.conclude(ctx, products, d, err, false)
		return nil, rec, again, err
	}
	return d, nil, nil, nil
}

// apply writes a price change prepare decided, conditional on the
// product's attributes being those it was decided from (deciding again
// from the whole item when they are not), and returns its records as
// price does.
func (p *Pricer) apply(ctx context.Context, products *table.Table, d *decision) (*DecisionRecord, *DecisionRecord, error) {
	if p.beforeApply != nil && d.decided != nil {
		p.beforeApply()
	}
	r, rec, seq := d.r, d.rec, d.seq
	res, err := products.Modify(ctx, d.key, func(cur item.Item) (item.Item, error) {
		if cur != nil && d.again == nil {
			d.again = p.unrecorded(r, rec.ProductID, cur, seq)
		}
		if d.decided == nil || !sameAttrs(cur, d.decided, decideAttrs) {
			var err error
			if d.dec, d.changes, err = p.decide(ctx, d.pred, r, cur, rec, seq, &d.predicted); err != nil {
				return nil, err
			}
			if !d.dec.Change {
				return cur, nil // nothing to store
			}
		}
		price, _ := num(cur, attrPrice)
		next := cur.Clone()
		next[attrPrice] = priceValue(d.dec.Price)
		next[attrPrevious] = priceValue(price)
		rev, _ := num(cur, attrRevision)
		next[attrRevision] = item.IntValue(int64(rev) + 1)
		next[attrUpdatedAt] = item.IntValue(ceilMillis(rec.EventTime))
		kept := []item.Value{}
		for _, c := range d.changes {
			if rec.EventTime.Sub(c) < time.Hour {
				kept = append(kept, item.IntValue(c.UnixMilli()))
			}
		}
		next[attrChangeTimes] = item.ListValue(append(kept, item.IntValue(ceilMillis(rec.EventTime))))
		next[attrDecision] = item.NumberValue(seq)
		next[attrDecided] = decidedWith(seq, rec, d.dec, &d.predicted)
		return next, nil
	})
	return p.conclude(ctx, products, d, err, err == nil && res.Written)
}

// conclude ends a decision: err is what deciding or writing it returned
// and written whether its price change was stored.
func (p *Pricer) conclude(ctx context.Context, products *table.Table, d *decision, err error, written bool) (*DecisionRecord, *DecisionRecord, error) {
	r, rec, again, dec := d.r, d.rec, d.again, &d.dec
	var refused *errRefused
	switch {
	case errors.Is(err, errDuplicate):
		if rec.Action == "applied" {
			// The record may have been lost with a crash: emit it again,
			// with what the change was decided with.
			if err := p.completeAgain(ctx, products, d.key, rec); err != nil {
				return nil, again, err
			}
			p.handle(rec.ProductID, r.ReadAfter)
			return rec, again, nil
		}
		return nil, again, nil
	case errors.As(err, &refused):
		return p.refuse(rec, refused.reason, nil), again, nil
	case errors.Is(err, errModel):
		return p.refuse(rec, ReasonModel, err), again, nil
	case errors.Is(err, table.ErrConditionFailed):
		return p.refuse(rec, ReasonConflict, err), again, nil
	case err != nil:
		return nil, again, err
	}
	committed := time.Now()
	p.metrics.decisionSeconds.Observe(committed.Sub(d.start).Seconds())
	rec.Model, rec.ModelVersion, rec.Variant, rec.Fallback = d.predicted.Model, d.predicted.Version, d.predicted.Variant, d.predicted.Fallback
	rec.ExpectedUnits, rec.ExpectedRevenue, rec.CurrentRevenue = dec.Units, dec.Revenue, dec.CurrentRevenue
	if !written {
		rec.Action, rec.Reason = "kept", dec.Reason
		p.metrics.decisions.WithLabelValues("kept", dec.Reason).Inc()
		return rec, again, nil
	}
	rec.Action, rec.NewPrice = "applied", dec.Price
	p.handle(rec.ProductID, r.ReadAfter) // its record goes out with this batch
	if !rec.IngestTime.IsZero() {
		e2e := committed.Sub(rec.IngestTime)
		rec.E2EMillis = float64(e2e.Microseconds()) / 1000
		p.metrics.e2e.Observe(e2e.Seconds())
	}
	p.metrics.decisions.WithLabelValues("applied", "").Inc()
	return rec, again, nil
}

var errModel = errors.New("pricing: model")

// decideAttrs are the products' attributes a decision reads: the
// guardrails' and the base price the price ratio is taken to.
var decideAttrs = append(slices.Clone(guardAttrs), attrBase)

// decide decides on the product as cur shows it (the whole item, or its
// decideAttrs; nil when missing), filling in rec's prices and bounds: the
// decision and the product's change times of the last hour, or
// errDuplicate (the row's decision was made already; rec says so when it
// was applied), an *errRefused or an errModel.
func (p *Pricer) decide(ctx context.Context, pred Predictor, r *trigger.Record, cur item.Item, rec *DecisionRecord, seq item.Number, predicted *model.Prediction) (Decision, []time.Time, error) {
	if cur == nil {
		return Decision{}, nil, &errRefused{ReasonNoProduct}
	}
	if last, ok := cur[attrDecision]; ok && last.Type() == item.N && last.N().Cmp(seq) >= 0 {
		if last.N().Cmp(seq) == 0 {
			rec.Action = "applied"
			rec.OldPrice, _ = num(cur, attrPrevious)
			rec.NewPrice, _ = num(cur, attrPrice)
		}
		return Decision{}, nil, errDuplicate
	}
	price, ok := num(cur, attrPrice)
	if !ok || price <= 0 {
		return Decision{}, nil, &errRefused{ReasonNoProduct}
	}
	base, _ := num(cur, attrBase)
	g := p.guardrails(cur)
	rec.OldPrice, rec.NewPrice, rec.MinPrice, rec.MaxPrice = price, price, g.MinPrice, g.MaxPrice
	changes := changeTimes(cur)
	if why := g.Allow(rec.EventTime, changes); why != "" {
		return Decision{}, nil, &errRefused{why}
	}
	demand := p.demand(pred, r.Change.NewImage, r.Change.Projected, base, predicted)
	dec, err := Decide(ctx, g, price, p.cfg.Candidates, p.cfg.MinGainPct, demand)
	if err != nil {
		return Decision{}, nil, fmt.Errorf("%w: %v", errModel, err)
	}
	if dec.Change {
		if err := g.Check(price, dec.Price); err != nil {
			p.metrics.violations.Inc()
			return Decision{}, nil, &errRefused{ReasonBounds}
		}
	}
	return dec, changes, nil
}

// sameAttrs reports whether a and b hold the same values of the named
// attributes (or both lack them).
func sameAttrs(a, b item.Item, names []string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	for _, n := range names {
		v, okA := a[n]
		w, okB := b[n]
		if okA != okB || okA && !item.Equal(v, w) {
			return false
		}
	}
	return true
}

// unrecorded returns the record of the product's last applied decision,
// built from what the product remembers, when it may not have been
// recorded: the decision was made for a row after the checkpoint the
// trigger's reading began after (r.ReadAfter) and before this row, and no
// decision of the product has been handled in this reading. A decision
// applied just before a crash has its record written when its row is
// replayed (the duplicate path of price); but a features table that keeps
// only each product's newest row (change history latest) replays only
// that one. The record may be a second one of its decision (dedupe on
// decision_id); it holds the prices and bounds, and what the change was
// decided with when cur has it (attrDecided; see completeAgain), not the
// end-to-end latency. It returns nil otherwise, and once per product and
// reading unless the record is not stored.
func (p *Pricer) unrecorded(r *trigger.Record, pid string, cur item.Item, seq item.Number) *DecisionRecord {
	last, ok := cur[attrDecision]
	if !ok || last.Type() != item.N || last.N().Cmp(seq) >= 0 {
		return nil
	}
	p.handled.Lock()
	done, ok := p.handled.m[pid]
	p.handled.Unlock()
	if ok && done == r.ReadAfter {
		return nil
	}
	if r.ReadAfter != "" {
		after, err := seqNumber(r.ReadAfter)
		if err != nil || last.N().Cmp(after) <= 0 {
			// Recorded before the checkpoint: nothing to do in this
			// reading (and no need to parse the checkpoint again).
			p.handle(pid, r.ReadAfter)
			return nil
		}
	}
	id := last.N().String()
	if n := len(r.SequenceNumber); len(id) < n && !strings.ContainsAny(r.SequenceNumber, ".-eE") {
		id = strings.Repeat("0", n-len(id)) + id // the width of the trigger's sequence numbers
	}
	g := p.guardrails(cur)
	rec := &DecisionRecord{DecisionID: id, ProductID: pid, Action: "applied", Features: map[string]float64{}, MinPrice: g.MinPrice, MaxPrice: g.MaxPrice, DecidedAt: time.Now().UTC(), RecordedAgain: true}
	rec.OldPrice, _ = num(cur, attrPrevious)
	rec.NewPrice, _ = num(cur, attrPrice)
	if ms, ok := num(cur, attrUpdatedAt); ok {
		rec.EventTime = time.UnixMilli(int64(ms)).UTC()
	}
	if v, ok := cur[attrDecided]; ok {
		applyDecided(rec, last.N(), v)
	}
	return rec
}

// completeAgain fills in rec, the record of a change applied before that
// is recorded again, from what the product keeps of the change
// (attrDecided), and marks it RecordedAgain. A product changed since by
// another decision keeps that one's, and rec is left as it is.
func (p *Pricer) completeAgain(ctx context.Context, products *table.Table, key item.Key, rec *DecisionRecord) error {
	rec.RecordedAgain = true
	id, err := seqNumber(rec.DecisionID)
	if err != nil {
		return nil // not one of ours: nothing kept to match it
	}
	cur, err := products.GetAttrs(ctx, key, decidedAttrs)
	if err != nil {
		return err
	}
	if v, ok := cur[attrDecided]; ok {
		applyDecided(rec, id, v)
	}
	return nil
}

var decidedAttrs = []string{attrDecided}

// Attributes of attrDecided: a map a price write stores beside the new
// price, so that a record lost with a crash can be written again whole
// (but for its end-to-end latency) from the product.
const (
	decidedID             = "decision"
	decidedModel          = "model"
	decidedVersion        = "model_version"
	decidedVariant        = "variant"
	decidedFallback       = "fallback"
	decidedUnits          = "expected_units"
	decidedRevenue        = "expected_revenue"
	decidedCurrentRevenue = "current_revenue"
	decidedFeatures       = "features"
	decidedEventTime      = "event_time"
	decidedIngestTime     = "ingest_time"
	decidedAt             = "decided_at"
)

// decidedWith is what the product keeps of the change rec records,
// decided as dec with the model's answer pr.
func decidedWith(seq item.Number, rec *DecisionRecord, dec Decision, pr *model.Prediction) item.Value {
	m := make(map[string]item.Value, 12)
	m[decidedID] = item.NumberValue(seq)
	if pr.Model != "" {
		m[decidedModel] = item.StringValue(pr.Model)
		m[decidedVersion] = item.IntValue(int64(pr.Version))
	}
	if pr.Variant != "" {
		m[decidedVariant] = item.StringValue(pr.Variant)
	}
	if pr.Fallback {
		m[decidedFallback] = item.BoolValue(true)
	}
	putFloat(m, decidedUnits, dec.Units)
	putFloat(m, decidedRevenue, dec.Revenue)
	putFloat(m, decidedCurrentRevenue, dec.CurrentRevenue)
	fs := make(map[string]item.Value, len(rec.Features))
	for name, v := range rec.Features {
		putFloat(fs, name, v)
	}
	m[decidedFeatures] = item.MapValue(fs)
	m[decidedEventTime] = item.StringValue(rec.EventTime.UTC().Format(time.RFC3339Nano))
	if !rec.IngestTime.IsZero() {
		m[decidedIngestTime] = item.StringValue(rec.IngestTime.UTC().Format(time.RFC3339Nano))
	}
	m[decidedAt] = item.StringValue(rec.DecidedAt.UTC().Format(time.RFC3339Nano))
	return item.MapValue(m)
}

// putFloat sets m[name] to v as a number; a value that is not a finite
// number is left out.
func putFloat(m map[string]item.Value, name string, v float64) {
	if n, err := item.ParseNumber(strconv.FormatFloat(v, 'g', -1, 64)); err == nil {
		m[name] = item.NumberValue(n)
	}
}

// applyDecided fills in rec from v, what a product keeps of its last
// change (decidedWith), when v is the decision id's.
func applyDecided(rec *DecisionRecord, id item.Number, v item.Value) {
	if v.Type() != item.M {
		return
	}
	d := item.Item(v.M())
	if kept, ok := d[decidedID]; !ok || kept.Type() != item.N || kept.N().Cmp(id) != 0 {
		return
	}
	if s, ok := d[decidedModel]; ok && s.Type() == item.S {
		rec.Model = s.S()
	}
	if n, ok := num(d, decidedVersion); ok {
		rec.ModelVersion = int(n)
	}
	if s, ok := d[decidedVariant]; ok && s.Type() == item.S {
		rec.Variant = s.S()
	}
	rec.Fallback = d[decidedFallback].BOOL()
	rec.ExpectedUnits, _ = num(d, decidedUnits)
	rec.ExpectedRevenue, _ = num(d, decidedRevenue)
	rec.CurrentRevenue, _ = num(d, decidedCurrentRevenue)
	if fs, ok := d[decidedFeatures]; ok && fs.Type() == item.M {
		rec.Features = make(map[string]float64, len(fs.M()))
		for name, v := range fs.M() {
			if v.Type() == item.N {
				rec.Features[name] = v.N().Float64()
			}
		}
	}
	if t, ok := timeAttr(d, decidedEventTime); ok {
		rec.EventTime = t
	}
	if t, ok := timeAttr(d, decidedIngestTime); ok {
		rec.IngestTime = t
	}
	if t, ok := timeAttr(d, decidedAt); ok {
		rec.DecidedAt = t
	}
}

// handle notes that the product's last applied decision is recorded, or
// on its way, in the trigger's reading that began after readAfter.
func (p *Pricer) handle(pid, readAfter string) {
	p.handled.Lock()
	if p.handled.m == nil {
		p.handled.m = map[string]string{}
	}
	p.handled.m[pid] = readAfter
	p.handled.Unlock()
}

func (p *Pricer) refuse(rec *DecisionRecord, reason string, err error) *DecisionRecord {
	rec.Action, rec.Reason = "refused", reason
	if err != nil {
		p.logger.Debug("price change refused", "product_id", rec.ProductID, "reason", reason, "err", err)
	}
	p.metrics.decisions.WithLabelValues("refused", reason).Inc()
	return rec
}

// demand predicts units at candidate prices: the features row (decoded
// with the attributes projected names, or whole when nil) with each
// candidate in the price feature and its ratio to the base price. When the
// model takes one of the two and the predictor answers one row at many
// values of a feature (an in-process endpoint), a decision is one request
// (the Demand is Batched); otherwise one request per candidate.
func (p *Pricer) demand(pred Predictor, row item.Item, projected []string, base float64, last *model.Prediction) Demand {
	var names []string
	if fl, ok := pred.(featureLister); ok {
		for _, f := range fl.Features() {
			names = append(names, f.Name)
		}
	}
	vec := make([]float64, len(names))
	priceAt, ratioAt := -1, -1
	for i, n := range names {
		switch n {
		case p.cfg.PriceFeature:
			priceAt = i
		case p.cfg.RatioFeature:
			ratioAt = i
		default:
			if _, found := slices.BinarySearch(projected, n); projected != nil && !found {
				// Not decoded: the model changed after Invoke checked
				// its inputs. Refuse rather than predict from a missing
				// input; the next row is read with it.
				return Demand{Units: func(context.Context, []float64, []float64) error {
					return fmt.Errorf("pricing: model input %q was not decoded from the features row", n)
				}}
			}
			if v, ok := num(row, n); ok {
				vec[i] = v
			} else {
				vec[i] = math.NaN()
			}
		}
	}
	ratio := func(price float64) float64 {
		if base > 0 {
			return price / base
		}
		return math.NaN()
	}
	if ap, ok := pred.(alongPredictor); ok && (priceAt >= 0) != (ratioAt >= 0) {
		return Demand{Batched: true, Units: func(ctx context.Context, prices, units []float64) error {
			a := model.Along{Row: vec, Feature: priceAt, Values: prices}
			if ratioAt >= 0 {
				a.Feature = ratioAt
				a.Values = make([]float64, len(prices))
				for i, price := range prices {
					a.Values[i] = ratio(price)
				}
			}
			res, err := ap.PredictAlong(ctx, a, units)
			if err != nil {
				return err
			}
			*last = model.Prediction{Variant: res.Variant, Model: res.Model, Version: res.Version}
			return nil
		}}
	}
	return Demand{Units: func(ctx context.Context, prices, units []float64) error {
		for i, price := range prices {
			if priceAt >= 0 {
				vec[priceAt] = price
			}
			if ratioAt >= 0 {
				vec[ratioAt] = ratio(price)
			}
			out, err := pred.Predict(ctx, model.Features{Row: vec})
			if err != nil {
				return err
			}
			*last = out
			units[i] = out.Value
		}
		return nil
	}}
}

// record submits the decisions to the price-changes stream, in order;
// recorded waits for them.
func (p *Pricer) record(changes *stream.Stream, recs []*DecisionRecord) (*stream.Appending, *[]byte, error) {
	entries := make([]stream.Entry, len(recs))
	// The records of a batch are encoded into one buffer (AppendJSON), one
	// of recordBufs, which the stream holds until it has stored them (see
	// recorded); the entries slice it once it has stopped growing.
	bp, _ := p.recordBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := (*bp)[:0]
	ends := make([]int, len(recs))
	for i, rec := range recs {
		var err error
		if buf, err = rec.AppendJSON(buf); err != nil {
			p.recordBufs.Put(bp)
			return nil, nil, err
		}
		ends[i] = len(buf)
	}
	*bp = buf
	start := 0
	for i, rec := range recs {
		entries[i] = stream.Entry{PartitionKey: rec.ProductID, Data: buf[start:ends[i]:ends[i]]}
		start = ends[i]
	}
	a, err := changes.SubmitNoSync(entries)
	if err != nil {
		p.recordBufs.Put(bp) // refused before the stream took the entries
		p.logger.Warn("decisions not recorded; the trigger retries", "count", len(recs), "first", recs[0].DecisionID, "err", err)
		return nil, nil, err
	}
	return a, bp, nil
}

// maxRecordBuf is the largest records buffer kept for the next batch.
const maxRecordBuf = 1 << 20

// Sync makes the decision records stored so far durable
// (trigger.Syncer). The records go to price_changes without waiting for an
// fsync each (SubmitNoSync): the reprice trigger calls Sync before it
// commits a checkpoint, at most once per commit interval, so a checkpoint
// never passes rows whose records a crash of the machine could lose, and
// the disk syncs price_changes a few times a second instead of once per
// batch. A crash loses at most records of rows after the checkpoint,
// which the trigger delivers again: their decisions are made again, or
// recorded again if they were applied (see unrecorded). The price writes
// themselves are fsynced before they count as made.
func (p *Pricer) Sync(ctx context.Context) error {
	n := p.stored.Load() // records stored before the sync starts
	if n <= p.synced.Load() {
		return nil
	}
	p.mu.Lock()
	changes := p.changes
	p.mu.Unlock()
	if changes == nil {
		return nil
	}
	if err := changes.Sync(ctx); err != nil {
		return fmt.Errorf("pricing: sync decision records: %w", err)
	}
	for { // the triggers' partitions sync concurrently
		if s := p.synced.Load(); s >= n || p.synced.CompareAndSwap(s, n) {
			return nil
		}
	}
}

var _ trigger.Syncer = (*Pricer)(nil)

// recorded waits for the decisions record submitted to be stored. It
// reports whether the stream is done with them (stored or failed; not
// when ctx ended the wait first), when their buffer may be reused.
func (p *Pricer) recorded(ctx context.Context, a *stream.Appending, recs []*DecisionRecord) (bool, error) {
	res, err := a.Wait(ctx)
	done := err == nil
	if err == nil {
		for _, r := range res {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if err == nil {
		p.stored.Add(int64(len(recs)))
	}
	if err != nil && ctx.Err() == nil {
		p.logger.Warn("decisions not recorded; the trigger delivers their rows again", "count", len(recs), "first", recs[0].DecisionID, "err", err)
	}
	return done, err
}
