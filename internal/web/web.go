package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/trigger"
)

//go:embed assets
var assets embed.FS

// Config configures the dashboard. A zero field means its default.
type Config struct {
	// EventsStream is the stream whose records count as events (events/s).
	// Default "clicks".
	EventsStream string `yaml:"events_stream" json:"events_stream"`
	// Changes is the stream of pricing decisions. Default "price_changes".
	Changes string `yaml:"changes" json:"changes"`
	// Products is the table of products. Default "products".
	Products string `yaml:"products" json:"products"`
	// DemandFeature is the features attribute charted as demand (where a
	// decision lacks it: "views", else the expected units). Default
	// "view_rate", the views per second of the current window.
	DemandFeature string `yaml:"demand_feature" json:"demand_feature"`
	// Interval is how often a snapshot is sent. Default 500ms.
	Interval time.Duration `yaml:"interval" json:"interval"`
	// Rows is the number of product rows shown; MaxRows the most a viewer
	// may ask for. Defaults 50 and 500.
	Rows    int `yaml:"rows" json:"rows"`
	MaxRows int `yaml:"max_rows" json:"max_rows"`
	// Decisions is the number of applied and the number of refused
	// decisions in the log. Default 20 each.
	Decisions int `yaml:"decisions" json:"decisions"`
	// Backfill is how far back the dashboard reads decisions when a viewer
	// arrives and nobody was watching (at most 40,000 decisions, the
	// newest). Default 1m.
	Backfill time.Duration `yaml:"backfill" json:"backfill"`
	// Linger is how long the dashboard keeps following the decisions
	// after its last viewer left; then it stops reading and forgets them
	// until the next viewer arrives. Default 1m.
	Linger time.Duration `yaml:"linger" json:"linger"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.EventsStream, "clicks")
	def(&c.Changes, "price_changes")
	def(&c.Products, "products")
	def(&c.DemandFeature, "view_rate")
	if c.Interval == 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.Rows == 0 {
		c.Rows = 50
	}
	if c.MaxRows == 0 {
		c.MaxRows = 500
	}
	if c.Decisions == 0 {
		c.Decisions = 20
	}
	if c.Backfill == 0 {
		c.Backfill = time.Minute
	}
	if c.Linger == 0 {
		c.Linger = time.Minute
	}
	return c
}

// Validate reports every problem at once, each with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < 50*time.Millisecond) {
		errs = append(errs, fmt.Errorf("%s.interval: must be at least 50ms, got %s", prefix, c.Interval))
	}
	if c.Rows < 0 || c.MaxRows < 0 || c.Decisions < 0 || c.Backfill < 0 || c.Linger < 0 {
		errs = append(errs, fmt.Errorf("%s: rows, max_rows, decisions, backfill and linger must not be negative", prefix))
	}
	if c.Rows > 0 && c.MaxRows > 0 && c.Rows > c.MaxRows {
		errs = append(errs, fmt.Errorf("%s.rows: %d is more than max_rows %d", prefix, c.Rows, c.MaxRows))
	}
	return errors.Join(errs...)
}

// Deps are the dashboard's sources. Streams and Tables are required.
type Deps struct {
	Streams *stream.Manager
	Tables  *table.Manager
	// Jobs and Triggers, when set, give the lag panel its rows.
	Jobs     *etl.Manager
	Triggers *trigger.Manager
	// Controls, when set, shows the kill switch and freezes.
	Controls *pricing.Controls
	// Auth is nil when authentication is off: the dashboard is then open
	// and has no login.
	Auth   *auth.Authenticator
	Logger *slog.Logger
}

// Dashboard serves the dashboard and keeps what it shows. Its methods are
// safe for concurrent use.
type Dashboard struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	static fs.FS
	login  *template.Template
	// demandNames are the features charted as demand, in order of choice.
	demandNames [2]string

	drainOnce sync.Once
	drained   chan struct{} // closed by Drain or when Run returns

	tmu      sync.Mutex
	products *table.Table

	// watch is who looks at the dashboard. While someone does, and for
	// Config.Linger after, a session follows the decisions and samples
	// rates and lag (see watch.go).
	watch struct {
		sync.Mutex
		viewers int       // open event streams
		last    time.Time // when a viewer last looked
		// ready belongs to the session running or asked for, which closes
		// it once it has read back the decisions; nil when there is none.
		ready chan struct{}
	}
	wake     chan struct{} // asks Run for a session; capacity 1
	running  atomic.Bool   // Run is running
	read     atomic.Uint64 // records of the price-changes stream read
	sessions atomic.Uint64 // sessions ended

	mu struct {
		sync.Mutex
		seen     seen
		products map[string]*productState
		// newest and oldest end the list of products, by activity.
		newest, oldest *productState
		applied        []Decision
		refused        []Decision
		latencies      []latencySample
		latency        Latency
		counts         map[string]int64
		total          uint64 // decisions taken in
		live           uint64 // of which as they arrived (not read back)
		decided        rate
		events         rate
		eventsTotal    uint64
		jobs           []JobLag
		triggers       []TriggerLag
		// ranked are the tracked products by activity, made at rankedAt
		// when total was rankedTotal; see rankedLocked.
		ranked      []string
		rankedAt    time.Time
		rankedTotal uint64
	}
}

// New returns a dashboard. It starts no goroutines: [Dashboard.Run] does.
func New(cfg Config, deps Deps) (*Dashboard, error) {
	if err := cfg.Validate("dashboard"); err != nil {
		return nil, err
	}
	if deps.Streams == nil || deps.Tables == nil {
		return nil, errors.New("web: streams and tables are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, err
	}
	login, err := template.ParseFS(assets, "assets/login.html")
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		cfg: cfg.withDefaults(), deps: deps, logger: deps.Logger.With("component", "web"),
		static: static, login: login,
		drained: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	d.demandNames = [2]string{d.cfg.DemandFeature, "views"}
	d.mu.seen.seed = maphash.MakeSeed()
	d.resetLocked()
	return d, nil
}

// resetLocked forgets every decision, rate and status.
func (d *Dashboard) resetLocked() {
	d.mu.seen = seen{seed: d.mu.seen.seed, set: map[uint64]struct{}{}}
	d.mu.products, d.mu.newest, d.mu.oldest = map[string]*productState{}, nil, nil
	d.mu.applied, d.mu.refused, d.mu.latencies, d.mu.latency = nil, nil, nil, Latency{}
	d.mu.counts, d.mu.total, d.mu.live = map[string]int64{}, 0, 0
	d.mu.decided, d.mu.events, d.mu.eventsTotal = rate{}, rate{}, 0
	d.mu.jobs, d.mu.triggers = nil, nil
	d.mu.ranked, d.mu.rankedAt, d.mu.rankedTotal = nil, time.Time{}, 0
}

// Run serves the dashboard's viewers until ctx ends; then it ends the
// event streams being served and returns nil. While nobody watches it
// reads nothing: when a viewer arrives it reads back the newest decisions
// of the price-changes stream (Config.Backfill) and follows the stream,
// and samples rates and lag, until nobody has looked for Config.Linger;
// then it forgets them.
func (d *Dashboard) Run(ctx context.Context) error {
	d.running.Store(true)
	defer d.running.Store(false)
	defer d.Drain()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
			d.session(ctx)
		}
	}
}

// Drain ends every event stream being served, and makes new ones end at
// once; the server calls it when it shuts down, so that open dashboards do
// not hold the shutdown up. It is idempotent.
func (d *Dashboard) Drain() { d.drainOnce.Do(func() { close(d.drained) }) }

// Mux is where the dashboard adds its routes: the API server, whose
// authorization table covers them.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount adds the dashboard's routes to mux.
func (d *Dashboard) Mount(mux Mux) {
	mux.Handle("GET /{$}", http.HandlerFunc(d.page))
	mux.Handle("GET /ui/static/{file}", d.headers(http.HandlerFunc(d.staticFile)))
	mux.Handle("GET /ui/events", http.HandlerFunc(d.events))
	mux.Handle("GET /ui/snapshot", http.HandlerFunc(d.serveSnapshot))
	mux.Handle("GET /ui/login", http.HandlerFunc(d.loginPage))
	mux.Handle("POST /ui/login", http.HandlerFunc(d.doLogin))
	mux.Handle("POST /ui/logout", http.HandlerFunc(d.logout))
}

// csp keeps the page to its own code: no inline scripts, no other origin.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (d *Dashboard) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer a browser sends
		// Origin: null on the login form, which sameOrigin refuses.
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func (d *Dashboard) page(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	d.headers(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
	})).ServeHTTP(w, r)
}

// staticFile serves one of the page's scripts and styles.
func (d *Dashboard) staticFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !fs.ValidPath(name) || name == "." {
		http.NotFound(w, r)
		return
	}
	http.ServeFileFS(w, r, d.static, name)
}

// view reads a viewer's choices from the query.
func (d *Dashboard) view(r *http.Request) View {
	q := r.URL.Query()
	v := View{Filter: q.Get("filter"), Product: q.Get("product")}
	if len(v.Filter) > 100 {
		v.Filter = v.Filter[:100]
	}
	v.Rows, _ = strconv.Atoi(q.Get("rows"))
	if d.deps.Auth != nil {
		v.Principal = auth.FromContext(r.Context())
	}
	return v
}

func (d *Dashboard) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	s, err := d.Snapshot(r.Context(), d.view(r))
	if err != nil {
		d.logger.Warn("dashboard snapshot", "err", err)
		http.Error(w, "snapshot: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s)
}

// events streams a snapshot every interval as Server-Sent Events, until
// the client goes, the dashboard drains, or the viewer's session ends.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	v := d.view(r)
	ready := d.arrive()
	defer d.leave()
	var mc matchCache
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, "retry: 2000\n\n")
	// The first snapshot shows what was read back, when that is quick.
	d.awaitReady(r.Context(), ready)
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	checked := time.Now()
	for {
		if time.Since(checked) >= recheckEvery {
			if !d.stillAllowed(r) {
				return // the browser reconnects, is refused and logs in again
			}
			checked = time.Now()
		}
		s, err := d.snapshot(r.Context(), v, &mc)
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			d.logger.Warn("dashboard snapshot", "err", err)
			_, _ = fmt.Fprintf(w, "event: problem\ndata: %q\n\n", err.Error())
		} else {
			b, _ := json.Marshal(s)
			if _, err := fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-d.drained:
			return
		case <-t.C:
		}
	}
}

// recheckEvery is how often an open event stream checks that its viewer's
// credentials still hold, so that a revoked key or an expired session stops
// watching within moments.
const recheckEvery = 5 * time.Second

// stillAllowed verifies again the credentials a request came with: its
// bearer token or its session cookie. Requests authenticated otherwise
// (AWS signatures, which cannot be verified again) and every request when
// authentication is off pass.
func (d *Dashboard) stillAllowed(r *http.Request) bool {
	a := d.deps.Auth
	if a == nil {
		return true
	}
	var (
		p   *auth.Principal
		err error
	)
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		p, err = a.VerifyToken(strings.TrimPrefix(h, "Bearer "))
	} else if c, cerr := r.Cookie(auth.SessionCookie); cerr == nil {
		p, err = a.VerifySession(c.Value)
	} else {
		return true
	}
	return err == nil && p.Allows(auth.Plain("dashboard"))
}

// loginData fills the login page.
type loginData struct {
	Error string
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if d.deps.Auth == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d.renderLogin(w, r, http.StatusOK, "")
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d.headers(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_ = d.login.Execute(w, loginData{Error: msg})
	})).ServeHTTP(w, r)
}

// sameOrigin reports whether a form post comes from this site (browsers
// send Origin with every POST); it stops another site logging a browser
// in under the other site's key.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (d *Dashboard) doLogin(w http.ResponseWriter, r *http.Request) {
	if d.deps.Auth == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !sameOrigin(r) {
		d.renderLogin(w, r, http.StatusForbidden, "This form was posted from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		d.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	value, p, exp, err := d.deps.Auth.NewSession(r.PostForm.Get("key"))
	if err != nil {
		d.logger.Info("dashboard login refused", "err", err)
		d.renderLogin(w, r, http.StatusUnauthorized, "That key is not valid.")
		return
	}
	if !p.Allows(auth.Plain("dashboard")) {
		d.renderLogin(w, r, http.StatusForbidden, "That key lacks the dashboard scope.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: auth.SessionCookie, Value: value, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	d.logger.Info("dashboard login", "principal", p.Name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	target := "/"
	if d.deps.Auth != nil {
		target = "/ui/login"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
