package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/examples/fastsneakers"
	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// consoleProblems collects what the page reports as errors: console.error
// calls, uncaught exceptions and error entries of the browser log (failed
// loads, refused by the content security policy).
type consoleProblems struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleProblems) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, msg)
	c.mu.Unlock()
}

func (c *consoleProblems) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// TestDashboardInChromium runs the Fast Sneakers pipeline with
// authentication on and watches it in headless Chromium: the browser is
// sent to the login page, logs in with an API key, and the dashboard then
// loads without console errors, shows live numbers that change, shows the
// price change the pipeline makes in the product table, and its kill
// switch, freeze buttons and filter box work.
func TestDashboardInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("install Debian's chromium (apt-get install chromium) to run the dashboard test")
	}
	ctx := context.Background()
	a, url := startSecure(t, func(c *Config) {
		c.Dashboard.Interval = 200 * time.Millisecond
	})
	admin := client.New(url, client.WithToken(bootstrap))

	// The scenario: its streams, tables, model, endpoint, jobs and trigger,
	// with the endpoint "pricing" switched to a demand model of this test
	// (whose answer is known: sneaker-1's price must rise), and two
	// products.
	require.NoError(t, fastsneakers.Setup(ctx, admin))
	artifact, err := os.ReadFile("testdata/demand-linear.json")
	require.NoError(t, err)
	_, err = admin.RegisterModel(ctx, "demand", api.ModelRegistration{Format: "linear-json", Artifact: artifact, Status: string(model.Approved)})
	require.NoError(t, err)
	_, err = admin.UpdateEndpoint(ctx, api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "demand"}}}})
	require.NoError(t, err)
	waitFor(t, 30*time.Second, func() error {
		ep, err := a.eps.Endpoint("pricing")
		if err != nil {
			return err
		}
		p, err := ep.Predict(ctx, model.Features{Row: []float64{1, 100, 1}})
		if err != nil || p.Model != "demand" {
			return fmt.Errorf("the endpoint still answers with %q: %v", p.Model, err)
		}
		return nil
	})
	products, err := a.Tables().Open(ctx, "products")
	require.NoError(t, err)
	for _, p := range []struct{ id, name string }{{"sneaker-1", "Air Runner"}, {"sneaker-2", "Court Classic"}} {
		_, err := products.Put(ctx, item.Item{
			"product_id": item.StringValue(p.id), "name": item.StringValue(p.name), "brand": item.StringValue("Swoosh"),
			"price": item.IntValue(100), "base_price": item.IntValue(100), "min_price": item.IntValue(50), "max_price": item.IntValue(200),
			"inventory": item.IntValue(40), "price_revision": item.IntValue(0),
		}, table.WriteOptions{})
		require.NoError(t, err)
	}
	operator, err := admin.CreateKey(ctx, "operator", []string{"dashboard", "jobs"})
	require.NoError(t, err)

	// The shop: view events of sneaker-1 (whose demand model wants a
	// higher price) and of a product the catalog lacks, a few a tick
	// until the test ends.
	feedCtx, stopFeed := context.WithCancel(ctx)
	var feed sync.WaitGroup
	feed.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			var recs []api.PutRecord
			for i, pid := range []string{"sneaker-1", "sneaker-1", "ghost-9"} {
				ev := map[string]any{"event_id": fmt.Sprintf("e%d-%d", n, i), "event_time": time.Now().UTC().Format(time.RFC3339Nano), "event_type": "view",
					"product_id": pid, "user_id": "u" + strconv.Itoa(n%7), "session_id": "s" + strconv.Itoa(n%5), "price": 100, "quantity": 1, "referrer": "web", "device": "desktop"}
				b, _ := json.Marshal(ev)
				recs = append(recs, api.PutRecord{PartitionKey: pid, Data: b})
			}
			if _, err := admin.PutRecords(feedCtx, "clicks", recs); err != nil && feedCtx.Err() == nil {
				t.Errorf("put clicks: %v", err)
				return
			}
			select {
			case <-feedCtx.Done():
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() { stopFeed(); feed.Wait() })

	// The pipeline changes sneaker-1's price.
	var newPrice float64
	waitFor(t, 60*time.Second, func() error {
		it, err := products.Get(ctx, mustKey(t, products, "sneaker-1"), table.GetOptions{})
		if err != nil {
			return err
		}
		if v, ok := it["price"]; ok && v.Type() == item.N && v.N().Float64() != 100 {
			newPrice = v.N().Float64()
			return nil
		}
		return fmt.Errorf("sneaker-1 still at %v", it["price"])
	})
	require.Greater(t, newPrice, 100.0)

	// The browser: a fresh profile, headless, no sandbox (CI runs as root).
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	require.NoError(t, chromedp.Do(bctx)) // start the browser and open the tab
	var problems consoleProblems
	require.NoError(t, chromedp.Listen(bctx, problems.listen))
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// What the page showed, for the failure's story.
		dctx, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		body, err := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Logf("page at failure (%v):\n%s\nconsole problems: %q", err, body, problems.list())
	})
	step, cancelStep := context.WithTimeout(bctx, 90*time.Second)
	defer cancelStep()
	poll := func(expr string) {
		t.Helper()
		_, err := chromedp.Run(step, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
		require.NoError(t, err, "waiting in the page for %s; console problems: %v", expr, problems.list())
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}

	// Without a session the dashboard sends the browser to the login page.
	require.NoError(t, chromedp.Do(step, chromedp.Navigate(url+"/")))
	loc, err := chromedp.Run(step, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, url+"/ui/login", loc)
	resp, err := chromedp.RunResponse(step,
		chromedp.SendKeys(chromedp.CSS("#key"), operator.Token),
		chromedp.Submit(chromedp.CSS("#key")),
	)
	require.NoError(t, err)
	if resp.Status != 200 {
		body, _ := chromedp.Run(step, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("login answered %d at %s: %s", resp.Status, resp.URL, body)
	}
	require.Equal(t, url+"/", resp.URL)
	poll(`location.pathname === "/" && document.getElementById("conn").textContent === "live"`)

	// Live numbers: the event total keeps changing as the shop sends.
	first := text("#events-total")
	poll(fmt.Sprintf(`document.getElementById("events-total").textContent !== %q`, first))
	poll(`document.getElementById("events-rate").textContent !== "–" && document.getElementById("events-rate").textContent !== "0.0"`)
	poll(`document.getElementById("p50").textContent.endsWith(" ms")`)

	// The price change shows in the product table, with its arrow, and
	// in the decision log.
	price := strconv.FormatFloat(newPrice, 'f', 2, 64)
	poll(fmt.Sprintf(`[...document.querySelectorAll("#products tbody tr")].some(r => r.dataset.id === "sneaker-1" && r.querySelector(".price").textContent === %q && r.querySelector(".arrow").textContent === "▲")`, price))
	poll(`[...document.querySelectorAll("#decisions tbody tr")].some(r => r.textContent.includes("sneaker-1") && r.textContent.includes("applied"))`)
	poll(`[...document.querySelectorAll("#lag tbody tr")].some(r => r.textContent.includes("click-features"))`)

	if file := os.Getenv("PRICESTREAM_DASHBOARD_SCREENSHOT"); file != "" {
		// To look at the page: a PNG of it at this point.
		png, err := chromedp.Run(step, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, png, 0o644))
	}

	// The kill switch, through the pricing API with the session.
	require.NoError(t, chromedp.Do(step, chromedp.Click(chromedp.CSS("#kill-on"))))
	poll(`document.getElementById("kill-state").classList.contains("on")`)
	st, err := admin.PricingControls(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.KillSwitch)
	require.Contains(t, st.KillSwitch.By, "operator")
	require.NoError(t, chromedp.Do(step, chromedp.Click(chromedp.CSS("#kill-off"))))
	poll(`document.getElementById("kill-state").classList.contains("off")`)

	// Freezing a product from its row, and the filter box.
	require.NoError(t, chromedp.Do(step, chromedp.Click(chromedp.CSS(`#products tbody tr[data-id="sneaker-2"] button`))))
	poll(`document.getElementById("frozen-list").textContent === "sneaker-2" && document.querySelector('#products tbody tr[data-id="sneaker-2"] button').textContent === "unfreeze"`)
	st, err = admin.PricingControls(ctx)
	require.NoError(t, err)
	require.Len(t, st.Frozen, 1)
	require.Equal(t, "sneaker-2", st.Frozen[0].Product)
	require.NoError(t, chromedp.Do(step, chromedp.SendKeys(chromedp.CSS("#filter"), "court")))
	poll(`[...document.querySelectorAll("#products tbody tr")].map(r => r.dataset.id).join() === "sneaker-2"`)

	require.Empty(t, problems.list(), "the page reported errors")
}

func mustKey(t *testing.T, tb *table.Table, id string) item.Key {
	t.Helper()
	k, err := tb.ParseKey(item.Item{"product_id": item.StringValue(id)})
	require.NoError(t, err)
	return k
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

// TestDashboardShutdownEndsEventStreams: an open dashboard does not hold
// up a graceful shutdown until its deadline.
func TestDashboardShutdownEndsEventStreams(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = time.Minute
	a, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var resp *http.Response
	waitFor(t, 10*time.Second, func() error {
		var err error
		resp, err = http.Get("http://" + a.Addr() + "/ui/events")
		return err
	})
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	buf := make([]byte, 64)
	_, err = resp.Body.Read(buf)
	require.NoError(t, err)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown waits for the dashboard's event stream")
	}
	require.Less(t, time.Since(start), 10*time.Second)
}
