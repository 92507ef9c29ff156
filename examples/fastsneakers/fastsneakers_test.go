package fastsneakers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/app/apptest"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/polltest"
)

func startApp(t *testing.T) *client.Client {
	t.Helper()
	a := apptest.Start(t, func(c *app.Config) { c.ETL.CheckpointInterval = 100 * time.Millisecond })
	return client.New("http://" + a.Addr())
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

// expected is the independent recount of one product: the events of the
// 100-second window that holds its last event.
type expected struct {
	windowStart             time.Time
	views, carts, purchases int
	revenue                 float64
}

// TestFastSneakersClickFeaturesREES46 sends the REES46 sample (1,000 real
// events) as JSON events and checks pricing_features against a recount of
// the CSV done here, not with the job's code.
func TestFastSneakersClickFeaturesREES46(t *testing.T) {
	c := startApp(t)
	ctx := context.Background()
	require.NoError(t, Setup(ctx, c))
	names, err := c.ListJobs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"click-features", "sales"}, names)

	f, err := os.Open("../data/rees46-2019-oct-sample.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	header, rows := rows[0], rows[1:]
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	type ev struct {
		t     time.Time
		typ   string
		price float64
	}
	byProduct := map[string][]ev{}
	var recs []api.PutRecord
	for _, r := range rows {
		tm, err := time.Parse("2006-01-02 15:04:05 MST", r[col["event_time"]])
		require.NoError(t, err)
		price, err := strconv.ParseFloat(r[col["price"]], 64)
		require.NoError(t, err)
		pid := r[col["product_id"]]
		byProduct[pid] = append(byProduct[pid], ev{tm, r[col["event_type"]], price})
		obj := map[string]any{}
		for i, h := range header {
			if r[i] == "" {
				obj[h] = nil
			} else if n, err := strconv.ParseFloat(r[i], 64); err == nil && h != "user_session" {
				obj[h] = json.Number(r[i])
				_ = n
			} else {
				obj[h] = r[i]
			}
		}
		b, err := json.Marshal(obj)
		require.NoError(t, err)
		recs = append(recs, api.PutRecord{PartitionKey: pid, Data: b})
	}
	// Messy input the job must account for: a malformed event, a bot.
	recs = append(recs,
		api.PutRecord{PartitionKey: "x", Data: json.RawMessage(`{"event_time":"2019-10-01 00:10:00 UTC","event_type":"view","price":1}`)},
		api.PutRecord{PartitionKey: "1307067", Data: json.RawMessage(`{"event_time":"2019-10-01 00:10:00 UTC","event_type":"view","product_id":1307067,"device":"bot"}`)},
	)
	for len(recs) > 0 {
		n := min(len(recs), 500)
		res, err := c.PutRecords(ctx, "clicks", recs[:n])
		require.NoError(t, err)
		require.Zero(t, res.FailedRecordCount)
		recs = recs[n:]
	}

	var st = new(struct{})
	_ = st
	waitFor(t, 60*time.Second, func() error {
		s, err := c.JobStatus(ctx, "click-features")
		if err != nil {
			return err
		}
		if s.RecordsIn != 1002 {
			return fmt.Errorf("records_in %d of 1002 (%s %s)", s.RecordsIn, s.State, s.Error)
		}
		if s.RecordsIn != s.RecordsProcessed+s.Filtered+s.DeadLettered {
			return fmt.Errorf("unaccounted: %+v", s)
		}
		if s.Filtered != 1 || s.DeadLettered != 1 || s.Late != 0 {
			return fmt.Errorf("filtered %d dead %d late %d", s.Filtered, s.DeadLettered, s.Late)
		}
		return nil
	})
	// The dead-letter writer appends after the record is counted: wait
	// for it.
	var dls []etl.DeadLetter
	waitFor(t, 30*time.Second, func() error {
		var err error
		if dls, err = c.JobDeadLetters(ctx, "click-features", 10); err != nil {
			return err
		}
		if len(dls) != 1 {
			return fmt.Errorf("%d dead letters, want 1", len(dls))
		}
		return nil
	})
	require.Equal(t, "missing_product_id", dls[0].Reason)

	// The independent recount.
	want := map[string]expected{}
	for pid, evs := range byProduct {
		last := evs[len(evs)-1].t
		ws := last.Truncate(100 * time.Second)
		var e expected
		e.windowStart = ws
		for _, x := range evs {
			if x.t.Before(ws) || !x.t.Before(ws.Add(100*time.Second)) {
				continue
			}
			switch x.typ {
			case "view":
				e.views++
			case "cart":
				e.carts++
			case "purchase":
				e.purchases++
				e.revenue += x.price
			}
		}
		want[pid] = e
	}
	require.Len(t, want, len(byProduct))
	checked := 0
	waitFor(t, 60*time.Second, func() error {
		checked = 0
		for pid, e := range want {
			raw, err := c.GetItem(ctx, "pricing_features", false, pid)
			if err != nil {
				return fmt.Errorf("product %s: %w", pid, err)
			}
			var row struct {
				WindowStart time.Time `json:"window_start"`
				Views       int       `json:"views"`
				AddToCarts  int       `json:"add_to_carts"`
				Purchases   int       `json:"purchases"`
				Revenue     float64   `json:"revenue"`
				Conversion  float64   `json:"conversion"`
				IngestTime  time.Time `json:"ingest_time"`
				Source      string    `json:"source_position"`
			}
			if err := json.Unmarshal(raw, &row); err != nil {
				return err
			}
			got := expected{windowStart: row.WindowStart, views: row.Views, carts: row.AddToCarts, purchases: row.Purchases, revenue: row.Revenue}
			got.revenue = roundCents(got.revenue)
			e.revenue = roundCents(e.revenue)
			if got != e {
				return fmt.Errorf("product %s: got %+v, want %+v", pid, got, e)
			}
			if row.IngestTime.IsZero() || row.Source == "" {
				return fmt.Errorf("product %s: no ingest time or source position: %s", pid, raw)
			}
			checked++
		}
		return nil
	})
	t.Logf("%d products checked against the recount", checked)

	// The sales job: an order becomes units and revenue per product.
	order := `{"order_id":"o1","customer":"c1","status":"placed","created_at":"2019-10-01T00:05:00Z","items":[{"product_id":"44600062","quantity":2,"unit_price":35.79},{"product_id":"3900821","quantity":1,"unit_price":33.2}]}`
	_, err = c.PutItem(ctx, "orders", api.ItemRequest{Item: json.RawMessage(order)})
	require.NoError(t, err)
	waitFor(t, 30*time.Second, func() error {
		raw, err := c.GetItem(ctx, "product_sales", false, "44600062")
		if err != nil {
			st, serr := c.JobStatus(ctx, "sales")
			t.Log(serr)
			dl, _ := c.JobDeadLetters(ctx, "sales", 5)
			return fmt.Errorf("%w; sales job %+v; dead letters %+v", err, st, dl)
		}
		if !strings.Contains(string(raw), `"units":2`) || !strings.Contains(string(raw), `"revenue":71.58`) {
			return fmt.Errorf("product_sales row %s", raw)
		}
		return nil
	})
}

func roundCents(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
