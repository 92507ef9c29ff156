package model_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/stream"
)

type env struct {
	eng     *engine.Engine
	reg     *model.Registry
	eps     *model.Endpoints
	streams *stream.Manager
	prom    *prometheus.Registry
}

// newEnv opens a registry and the endpoints on a fresh engine.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := enginetest.Start(t)
	return newEnvOn(t, e)
}

// newEnvOn opens another registry and endpoints (another process's view)
// on an existing engine.
func newEnvOn(t *testing.T, e *engine.Engine) *env {
	t.Helper()
	ctx := context.Background()
	prom := prometheus.NewRegistry()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: prom})
	require.NoError(t, err)
	reg, err := model.NewRegistry(ctx, model.Config{}, model.Deps{Engine: e})
	require.NoError(t, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, reg, model.Deps{Engine: e, Streams: sm, Registerer: prom})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, eps.Close())
		require.NoError(t, sm.Close())
	})
	return &env{eng: e, reg: reg, eps: eps, streams: sm, prom: prom}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// linearModel is a linear-json model of two features a and b predicting
// intercept + a + 2b.
func linearModel(intercept float64) []byte {
	return fmt.Appendf(nil, `{"type":"linear","features":["a","b"],"coefficients":[1,2],"intercept":%v}`, intercept)
}

func (v *env) register(t *testing.T, name string, data []byte, status model.ApprovalStatus) *model.Version {
	t.Helper()
	ver, err := v.reg.Register(context.Background(), model.Registration{Model: name, Artifact: data, Status: status})
	require.NoError(t, err)
	return ver
}

func TestRegistryRegisterAndDescribe(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	ver, err := v.reg.Register(ctx, model.Registration{
		Model: "pricing", Format: model.FormatXGBoostJSON, Artifact: readFixture(t, "xgb_bench.json"),
		Metrics: map[string]float64{"rmse": 0.31}, TrainingData: "stream://clicks/2026-11", Tags: map[string]string{"team": "pricing"},
	})
	require.NoError(t, err)
	require.Equal(t, 1, ver.Version)
	require.Equal(t, model.PendingManualApproval, ver.Status)
	require.Equal(t, "xgboost-json", ver.Format)
	require.Equal(t, 100, ver.NumTrees)
	require.Equal(t, "regression", ver.Output)
	require.Len(t, ver.Features, 20)
	require.Equal(t, model.Feature{Name: "f00", Type: model.FeatureFloat}, ver.Features[0], "XGBoost JSON files carry their feature names")
	require.Len(t, ver.ArtifactSHA256, 64)

	// A second version of the same file: numbered on, artifact shared.
	ver2, err := v.reg.Register(ctx, model.Registration{Model: "pricing", Artifact: readFixture(t, "xgb_bench.json")})
	require.NoError(t, err)
	require.Equal(t, 2, ver2.Version)
	require.Equal(t, ver.ArtifactSHA256, ver2.ArtifactSHA256)

	got, err := v.reg.Version(ctx, "pricing", 1)
	require.NoError(t, err)
	require.Equal(t, 0.31, got.Metrics["rmse"])
	require.Equal(t, "stream://clicks/2026-11", got.TrainingData)
	require.Equal(t, "pricing", got.Tags["team"])
	latest, err := v.reg.Version(ctx, "pricing", 0)
	require.NoError(t, err)
	require.Equal(t, 2, latest.Version)

	_, err = v.reg.LatestApproved(ctx, "pricing")
	require.ErrorIs(t, err, model.ErrNotApproved)
	approved, err := v.reg.SetStatus(ctx, "pricing", 1, model.Approved)
	require.NoError(t, err)
	require.Equal(t, model.Approved, approved.Status)
	la, err := v.reg.LatestApproved(ctx, "pricing")
	require.NoError(t, err)
	require.Equal(t, 1, la.Version)
	_, err = v.reg.SetStatus(ctx, "pricing", 2, model.Rejected)
	require.NoError(t, err)

	// LightGBM: names from the file; linear: its own names, with --features
	// checked against them.
	lgb, err := v.reg.Register(ctx, model.Registration{Model: "lgb", Artifact: readFixture(t, "lgb_reg.txt")})
	require.NoError(t, err)
	require.Equal(t, "Column_0", lgb.Features[0].Name)
	lin, err := v.reg.Register(ctx, model.Registration{Model: "lin", Artifact: linearModel(1), Features: []string{"a", "b"}, FeatureTypes: []model.FeatureType{"float", "c"}})
	require.NoError(t, err)
	require.Equal(t, []model.Feature{{Name: "a", Type: model.FeatureFloat}, {Name: "b", Type: model.FeatureCategorical}}, lin.Features)

	pkgs, err := v.reg.List(ctx)
	require.NoError(t, err)
	require.Len(t, pkgs, 3)
	require.Equal(t, "lgb", pkgs[0].Name)
	require.Equal(t, model.Package{Name: "pricing", Versions: 2, Latest: 2, LatestApproved: 1, Created: pkgs[2].Created, Updated: pkgs[2].Updated}, pkgs[2])

	rt, rv, err := v.reg.Runtime(ctx, "pricing", 1)
	require.NoError(t, err)
	require.Equal(t, 1, rv.Version)
	c := modeltest.ReadCases(t, "testdata/xgb_bench.input.csv", "testdata/xgb_bench.expected.csv")
	require.InDelta(t, c.Want[0], rt.Predict(c.Rows[0]), 1e-6)
	art, _, err := v.reg.Artifact(ctx, "pricing", 2)
	require.NoError(t, err)
	require.Equal(t, readFixture(t, "xgb_bench.json"), art)
}

func TestRegistryRefusesBadRegistrations(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	xgb := readFixture(t, "xgb_bench.json")
	tests := []struct {
		name string
		reg  model.Registration
		is   error
		msg  string
	}{
		{"corrupt file", model.Registration{Model: "m", Format: model.FormatLightGBM, Artifact: []byte("tree\nversion=v3\n")}, model.ErrInvalidModel,
			`model: lightgbm: line 2: unexpected end of file in the header (no trees, no "end of trees")`},
		{"truncated xgboost", model.Registration{Model: "m", Artifact: xgb[:len(xgb)/2]}, model.ErrInvalidModel, "model: xgboost-json"},
		{"unknown format", model.Registration{Model: "m", Artifact: []byte("hello")}, model.ErrUnknownFormat, "cannot tell the format"},
		{"empty", model.Registration{Model: "m"}, model.ErrInvalidArgument, "the model file is empty"},
		{"bad name", model.Registration{Model: "no_underscores", Artifact: xgb}, model.ErrInvalidArgument, `model name "no_underscores"`},
		{"feature count", model.Registration{Model: "m", Artifact: linearModel(0), Features: []string{"a"}}, model.ErrInvalidArgument, "1 feature names given, the model has 2 features"},
		{"feature names differ", model.Registration{Model: "m", Artifact: linearModel(0), Features: []string{"b", "a"}}, model.ErrInvalidArgument,
			"the feature names given (b,a) differ from those in the model file (a,b)"},
		{"feature type", model.Registration{Model: "m", Artifact: linearModel(0), FeatureTypes: []model.FeatureType{"float", "text"}}, model.ErrInvalidArgument, `feature type "text"`},
		{"status", model.Registration{Model: "m", Artifact: linearModel(0), Status: "Maybe"}, model.ErrInvalidArgument, `approval status "Maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.reg.Register(ctx, tt.reg)
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.msg)
		})
	}
	_, err := v.reg.Version(ctx, "m", 1)
	require.ErrorIs(t, err, model.ErrNotFound, "nothing was registered")
	_, err = v.reg.SetStatus(ctx, "m", 1, model.Approved)
	require.ErrorIs(t, err, model.ErrNotFound)
}

func TestEndpointPredictInProcess(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.register(t, "pricing", readFixture(t, "xgb_bench.json"), "")

	_, err := v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing"}}}, false)
	require.ErrorIs(t, err, model.ErrNotApproved)
	require.ErrorContains(t, err, "pricing has no Approved version")
	_, err = v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing", Version: 1}}}, false)
	require.ErrorIs(t, err, model.ErrNotApproved)
	require.ErrorContains(t, err, "pricing:1 is PendingManualApproval")

	_, err = v.reg.SetStatus(ctx, "pricing", 1, model.Approved)
	require.NoError(t, err)
	info, err := v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing"}}}, false)
	require.NoError(t, err)
	require.Equal(t, model.StatusInService, info.Status)
	require.Equal(t, 1, info.Variants[0].Version, "the newest Approved version")
	require.Equal(t, "AllTraffic", info.Variants[0].Name)
	require.Len(t, info.Features, 20)
	_, err = v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing"}}}, false)
	require.ErrorIs(t, err, model.ErrExists)

	ep, err := v.eps.Endpoint("pricing")
	require.NoError(t, err)
	require.Equal(t, info.Features, ep.Features())
	var p model.Predictor = ep
	c := modeltest.ReadCases(t, "testdata/xgb_bench.input.csv", "testdata/xgb_bench.expected.csv")
	for i, row := range c.Rows {
		got, err := p.Predict(ctx, model.Features{Row: row})
		require.NoError(t, err)
		require.Equal(t, c.Want[i], got.Value, "row %d: bit-exact with XGBoost", i)
		require.Equal(t, model.Prediction{Value: got.Value, Variant: "AllTraffic", Model: "pricing", Version: 1}, got)
	}

	_, err = p.Predict(ctx, model.Features{Row: c.Rows[0][:5]})
	require.ErrorIs(t, err, model.ErrInvalidInput)
	require.ErrorIs(t, err, model.ErrFeatureCount)
	require.EqualError(t, err, "model: wrong number of features: row has 5 values, endpoint pricing expects 20")
	_, err = p.Predict(ctx, model.Features{Row: c.Rows[0], Variant: "Blue"})
	require.ErrorIs(t, err, model.ErrInvalidInput)
	require.ErrorIs(t, err, model.ErrUnknownVariant)
	require.EqualError(t, err, `model: unknown variant: endpoint pricing has no production variant "Blue" (it has AllTraffic)`)

	require.Equal(t, float64(len(c.Rows)), testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_invocations_total", "pricing", "AllTraffic")))
	require.Equal(t, float64(1), testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_invocation_errors_total", "pricing", "AllTraffic")))
	require.Equal(t, float64(1), testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_invocation_errors_total", "pricing", "")), "no variant chosen")

	require.NoError(t, v.eps.Delete(ctx, "pricing"))
	_, err = p.Predict(ctx, model.Features{Row: c.Rows[0]})
	require.ErrorIs(t, err, model.ErrNotFound)
	_, err = v.eps.Endpoint("pricing")
	require.ErrorIs(t, err, model.ErrNotFound)
	require.ErrorIs(t, v.eps.Delete(ctx, "pricing"), model.ErrNotFound)
	require.Empty(t, v.eps.Names())

	// Created anew, the endpoint serves through the handle the caller kept.
	_, err = v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing"}}}, false)
	require.NoError(t, err)
	got, err := p.Predict(ctx, model.Features{Row: c.Rows[0]})
	require.NoError(t, err)
	require.Equal(t, c.Want[0], got.Value)
	require.Equal(t, []string{"pricing"}, v.eps.Names())
}

// TestEndpointPredictAlong: one row at many values of one feature is what
// Predict answers for each such row, in one invocation.
func TestEndpointPredictAlong(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.register(t, "pricing", readFixture(t, "xgb_bench.json"), model.Approved)
	_, err := v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing"}}}, false)
	require.NoError(t, err)
	ep, err := v.eps.Endpoint("pricing")
	require.NoError(t, err)
	c := modeltest.ReadCases(t, "testdata/xgb_bench.input.csv", "testdata/xgb_bench.expected.csv")
	calls := 0
	rows := 0
	for i, row := range c.Rows[:10] {
		for f := range row {
			values := []float64{c.Rows[i+1][f], row[f], math.NaN(), c.Rows[i+2][f] * 2}
			out := make([]float64, len(values))
			res, err := ep.PredictAlong(ctx, model.Along{Row: row, Feature: f, Values: values}, out)
			require.NoError(t, err)
			calls++
			rows += len(values)
			require.Equal(t, model.BatchResult{Variant: "AllTraffic", Model: "pricing", Version: 1}, res)
			for k, x := range values {
				r := slices.Clone(row)
				r[f] = x
				p, err := ep.Predict(ctx, model.Features{Row: r})
				require.NoError(t, err)
				require.Equal(t, math.Float64bits(p.Value), math.Float64bits(out[k]), "row %d feature %d value %v", i, f, x)
			}
			calls += len(values)
			rows += len(values)
			require.Equal(t, c.Want[i], out[1], "row %d at its own value: XGBoost's prediction", i)
		}
	}

	out := make([]float64, 2)
	for _, tc := range []struct {
		a    model.Along
		want string
	}{
		{model.Along{Row: c.Rows[0][:5], Values: []float64{1}}, "model: wrong number of features: row has 5 values, endpoint pricing expects 20"},
		{model.Along{Row: c.Rows[0], Feature: 20, Values: []float64{1}}, "model: feature index 20 is outside endpoint pricing's 20 features"},
		{model.Along{Row: c.Rows[0], Feature: -1, Values: []float64{1}}, "model: feature index -1 is outside endpoint pricing's 20 features"},
		{model.Along{Row: c.Rows[0]}, "model: no values to predict at"},
	} {
		_, err := ep.PredictAlong(ctx, tc.a, out)
		require.ErrorIs(t, err, model.ErrInvalidInput, tc.want)
		require.EqualError(t, err, tc.want)
	}
	_, err = ep.PredictAlong(ctx, model.Along{Row: c.Rows[0], Values: []float64{1}, Variant: "Blue"}, out)
	require.ErrorIs(t, err, model.ErrUnknownVariant)

	require.Equal(t, float64(calls), testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_invocations_total", "pricing", "AllTraffic")))
	require.Equal(t, float64(rows), testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_rows_total", "pricing", "AllTraffic")))
	require.Equal(t, float64(4), testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_invocation_errors_total", "pricing", "AllTraffic")))

	require.NoError(t, v.eps.Delete(ctx, "pricing"))
	_, err = ep.PredictAlong(ctx, model.Along{Row: c.Rows[0], Values: []float64{1}}, out)
	require.ErrorIs(t, err, model.ErrNotFound)
}

// promCounter returns the child of a counter vector registered in reg.
func promCounter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			if strings.Join(vals, ",") == strings.Join(labels, ",") {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return nil
}

func TestEndpointDefinitionErrors(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.register(t, "lin", linearModel(1), model.Approved)
	v.register(t, "xgb", readFixture(t, "xgb_bench.json"), model.Approved)
	v.register(t, "other", []byte(`{"type":"linear","features":["b","a"],"coefficients":[1,2]}`), model.Approved)
	tests := []struct {
		name string
		def  model.EndpointConfig
		is   error
		msg  string
	}{
		{"no variants", model.EndpointConfig{Name: "e"}, model.ErrInvalidArgument, "at least one production variant"},
		{"bad name", model.EndpointConfig{Name: "e.x", Variants: []model.VariantConfig{{Model: "lin"}}}, model.ErrInvalidArgument, `endpoint name "e.x"`},
		{"unknown model", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "nope"}}}, model.ErrNotFound, `variants[0]: model: not found: model "nope"`},
		{"unknown version", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin", Version: 9}}}, model.ErrNotFound, "model lin version 9"},
		{"zero weights", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin", Weight: model.Weight(0)}}}, model.ErrInvalidArgument, "add up to 0"},
		{"negative weight", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin", Weight: model.Weight(-1)}}}, model.ErrInvalidArgument, "variants[0].weight: must be >= 0"},
		{"duplicate variant", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Name: "a", Model: "lin"}, {Name: "a", Model: "lin"}}}, model.ErrInvalidArgument, `variant name "a" is used twice`},
		{"different inputs", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin"}, {Model: "xgb"}}}, model.ErrInvalidArgument, "its model has 20 features, the endpoint's first variant 2"},
		{"different order", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin"}}, Shadow: &model.VariantConfig{Model: "other"}}, model.ErrInvalidArgument, `feature 0 is "b"`},
		{"missing capture stream", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin"}}, Capture: &model.CaptureConfig{Stream: "nope"}}, model.ErrInvalidArgument, `stream "nope" does not exist`},
		{"bad sampling", model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin"}}, Shadow: &model.VariantConfig{Model: "lin", SamplingPercentage: 101}}, model.ErrInvalidArgument, "shadow.sampling_percentage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.eps.Create(ctx, tt.def, false)
			require.ErrorIs(t, err, tt.is)
			require.ErrorContains(t, err, tt.msg)
		})
	}
	_, err := v.eps.Update(ctx, model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin"}}}, false)
	require.ErrorIs(t, err, model.ErrNotFound)
	eps, err := v.eps.List(ctx)
	require.NoError(t, err)
	require.Empty(t, eps)
}

// TestEndpointUpdateUnderLoad shifts traffic between two versions while
// goroutines predict: no request fails, and every answer is the one of the
// version that says it answered.
func TestEndpointUpdateUnderLoad(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.register(t, "lin", linearModel(100), model.Approved) // version 1: 100 + a + 2b
	v.register(t, "lin", linearModel(200), model.Approved) // version 2: 200 + a + 2b
	_, err := v.eps.Create(ctx, model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Name: "blue", Model: "lin", Version: 1}}}, false)
	require.NoError(t, err)
	ep, err := v.eps.Endpoint("e")
	require.NoError(t, err)

	var stop atomic.Bool
	var served [3]atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			row := []float64{1, 2}
			for !stop.Load() {
				p, err := ep.Predict(ctx, model.Features{Row: row})
				if err != nil {
					t.Errorf("predict during update: %v", err)
					return
				}
				if want := float64(100*p.Version) + 5; p.Value != want {
					t.Errorf("version %d answered %v, want %v", p.Version, p.Value, want)
					return
				}
				served[p.Version].Add(1)
			}
		})
	}
	defs := []model.EndpointConfig{
		{Name: "e", Variants: []model.VariantConfig{{Name: "blue", Model: "lin", Version: 1, Weight: model.Weight(90)}, {Name: "green", Model: "lin", Version: 2, Weight: model.Weight(10)}}},
		{Name: "e", Variants: []model.VariantConfig{{Name: "blue", Model: "lin", Version: 1, Weight: model.Weight(10)}, {Name: "green", Model: "lin", Version: 2, Weight: model.Weight(90)}}},
		{Name: "e", Variants: []model.VariantConfig{{Name: "green", Model: "lin", Version: 2}}},
	}
	for i := range 6 {
		_, err := v.eps.Update(ctx, defs[i%len(defs)], false)
		require.NoError(t, err)
	}
	stop.Store(true)
	wg.Wait()
	require.Positive(t, served[1].Load()+served[2].Load())
	p, err := ep.Predict(ctx, model.Features{Row: []float64{1, 2}})
	require.NoError(t, err)
	require.Equal(t, model.Prediction{Value: 205, Variant: "green", Model: "lin", Version: 2}, p, "the last update serves")
	info, err := v.eps.Describe(ctx, "e")
	require.NoError(t, err)
	require.Equal(t, model.StatusInService, info.Status)
}

func TestEndpointWeightsAndTargetVariant(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.register(t, "lin", linearModel(100), model.Approved)
	v.register(t, "lin", linearModel(200), model.Approved)
	_, err := v.eps.Create(ctx, model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{
		{Name: "blue", Model: "lin", Version: 1, Weight: model.Weight(1)},
		{Name: "green", Model: "lin", Version: 2, Weight: model.Weight(3)},
		{Name: "dark", Model: "lin", Version: 2, Weight: model.Weight(0)},
	}}, false)
	require.NoError(t, err)
	ep, err := v.eps.Endpoint("e")
	require.NoError(t, err)
	counts := map[string]int{}
	const n = 4000
	for range n {
		p, err := ep.Predict(ctx, model.Features{Row: []float64{0, 0}})
		require.NoError(t, err)
		counts[p.Variant]++
	}
	require.Zero(t, counts["dark"], "weight 0 takes no traffic by weight")
	require.InDelta(t, 0.25, float64(counts["blue"])/n, 0.05)
	p, err := ep.Predict(ctx, model.Features{Row: []float64{0, 0}, Variant: "dark"})
	require.NoError(t, err)
	require.Equal(t, "dark", p.Variant, "but answers when asked by name")
}

// TestEndpointFollowsOtherProcess: a change made through one process is
// served by another that shares the engine, without a restart.
func TestEndpointFollowsOtherProcess(t *testing.T) {
	a := newEnv(t)
	b := newEnvOn(t, a.eng)
	ctx := context.Background()
	a.register(t, "lin", linearModel(100), model.Approved)
	a.register(t, "lin", linearModel(200), model.Approved)
	_, err := a.eps.Create(ctx, model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin", Version: 1}}}, false)
	require.NoError(t, err)
	predictB := func() (model.Prediction, error) {
		ep, err := b.eps.Endpoint("e")
		if err != nil {
			return model.Prediction{}, err
		}
		return ep.Predict(ctx, model.Features{Row: []float64{0, 0}})
	}
	waitFor(t, 5*time.Second, func() error {
		p, err := predictB()
		if err == nil && p.Value != 100 {
			err = fmt.Errorf("got %v", p.Value)
		}
		return err
	})
	_, err = a.eps.Update(ctx, model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin", Version: 2}}}, false)
	require.NoError(t, err)
	waitFor(t, 5*time.Second, func() error {
		p, err := predictB()
		if err == nil && p.Value != 200 {
			err = fmt.Errorf("got %v", p.Value)
		}
		return err
	})
	require.NoError(t, a.eps.Delete(ctx, "e"))
	waitFor(t, 5*time.Second, func() error {
		if _, err := predictB(); err == nil {
			return fmt.Errorf("still served")
		}
		return nil
	})

	// A third process started now loads what exists before it returns.
	_, err = a.eps.Create(ctx, model.EndpointConfig{Name: "e2", Variants: []model.VariantConfig{{Model: "lin"}}}, false)
	require.NoError(t, err)
	c := newEnvOn(t, a.eng)
	ep, err := c.eps.Endpoint("e2")
	require.NoError(t, err)
	p, err := ep.Predict(ctx, model.Features{Row: []float64{1, 1}})
	require.NoError(t, err)
	require.Equal(t, 203.0, p.Value)
}

// TestEndpointShadowAndCapture: the shadow answers a copy of each request,
// never the caller; captured requests and both answers land on the stream.
func TestEndpointShadowAndCapture(t *testing.T) {
	v := newEnv(t)
	ctx := context.Background()
	v.register(t, "lin", linearModel(100), model.Approved)
	v.register(t, "lin", linearModel(100.5), "") // pending: fine for a shadow
	_, err := v.streams.Create(ctx, stream.Spec{Name: "capture", Partitions: 1})
	require.NoError(t, err)
	_, err = v.eps.Create(ctx, model.EndpointConfig{
		Name:     "e",
		Variants: []model.VariantConfig{{Model: "lin", Version: 1}},
		Shadow:   &model.VariantConfig{Model: "lin", Version: 2},
		Capture:  &model.CaptureConfig{Stream: "capture"},
	}, false)
	require.NoError(t, err)
	ep, err := v.eps.Endpoint("e")
	require.NoError(t, err)
	const n = 20
	for i := range n {
		p, err := ep.Predict(ctx, model.Features{Row: []float64{float64(i), math.NaN()}, InferenceID: fmt.Sprint("req-", i)})
		require.NoError(t, err)
		require.Equal(t, 100+float64(i), p.Value, "production answers, never the shadow")
		require.Equal(t, "AllTraffic", p.Variant)
	}
	r, err := ep.Routing()
	require.NoError(t, err)
	out := make([]float64, 2)
	_, err = r.PredictBatch(ctx, model.Batch{Rows: [][]float64{{1, 1}, {2, 2}}, ContentType: "text/csv"}, out)
	require.NoError(t, err)
	require.Equal(t, []float64{103, 106}, out)
	// Along: the captured rows are spelled out, one per value.
	_, err = r.PredictAlong(ctx, model.Along{Row: []float64{1, 0}, Feature: 1, Values: []float64{1, 2}, InferenceID: "along"}, out)
	require.NoError(t, err)
	require.Equal(t, []float64{103, 105}, out)

	st, err := v.streams.Open(ctx, "capture")
	require.NoError(t, err)
	var recs []stream.Record
	waitFor(t, 10*time.Second, func() error {
		res, err := st.Read(ctx, 0, stream.Position{}, stream.ReadOptions{MaxRecords: 1000})
		if err != nil {
			return err
		}
		recs = res.Records
		if len(recs) < n+2 {
			return fmt.Errorf("%d captured records", len(recs))
		}
		return nil
	})
	var first struct {
		Endpoint     string       `json:"endpoint"`
		Variant      string       `json:"variant"`
		Model        string       `json:"model"`
		ModelVersion int          `json:"model_version"`
		InferenceID  string       `json:"inference_id"`
		Rows         [][]*float64 `json:"rows"`
		Predictions  []float64    `json:"predictions"`
		Shadow       struct {
			Variant      string    `json:"variant"`
			ModelVersion int       `json:"model_version"`
			Predictions  []float64 `json:"predictions"`
		} `json:"shadow"`
	}
	require.NoError(t, json.Unmarshal(recs[0].Data, &first), string(recs[0].Data))
	require.Equal(t, "e", first.Endpoint)
	require.Equal(t, "AllTraffic", first.Variant)
	require.Equal(t, 1, first.ModelVersion)
	require.Equal(t, "req-0", first.InferenceID)
	require.Equal(t, "req-0", recs[0].PartitionKey)
	require.Nil(t, first.Rows[0][1], "a missing value is null")
	require.Equal(t, []float64{100}, first.Predictions)
	require.Equal(t, "Shadow", first.Shadow.Variant)
	require.Equal(t, 2, first.Shadow.ModelVersion)
	require.Equal(t, []float64{100.5}, first.Shadow.Predictions)
	require.Contains(t, string(recs[n].Data), `"content_type":"text/csv"`)
	require.Contains(t, string(recs[n].Data), `"rows":[[1,1],[2,2]],"predictions":[103,106]`)
	require.Contains(t, string(recs[n+1].Data), `"inference_id":"along"`)
	require.Contains(t, string(recs[n+1].Data), `"rows":[[1,1],[1,2]],"predictions":[103,105]`)

	waitFor(t, 5*time.Second, func() error {
		if d := testutil.ToFloat64(promCounter(t, v.prom, "pricestream_model_shadow_disagreements_total", "e", "Shadow")); d != n+2 {
			return fmt.Errorf("%v disagreements", d)
		}
		return nil
	})
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

func TestEndpointStatic(t *testing.T) {
	rt, err := model.Load("", readFixture(t, "lgb_reg.txt"))
	require.NoError(t, err)
	ep, err := model.NewStaticEndpoint("lgb", rt, nil)
	require.NoError(t, err)
	r, err := ep.Routing()
	require.NoError(t, err)
	require.Equal(t, "Column_5", r.Features()[5].Name)
	c := modeltest.ReadCases(t, "testdata/lgb_reg.input.csv", "testdata/lgb_reg.expected.csv")
	p, err := ep.Predict(context.Background(), model.Features{Row: c.Rows[0]})
	require.NoError(t, err)
	require.InDelta(t, c.Want[0], p.Value, 1e-9)
}

// TestEndpointExternalEngine runs the registry and an endpoint on an
// external NATS server (PRICESTREAM_NATS_URL), as in production.
func TestEndpointExternalEngine(t *testing.T) {
	e := enginetest.External(t)
	v := newEnvOn(t, e)
	ctx := context.Background()
	v.register(t, "pricing", readFixture(t, "xgb_bench.json"), model.Approved)
	_, err := v.eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "pricing"}}}, false)
	require.NoError(t, err)
	other := newEnvOn(t, e) // a second process loads the artifact from the server
	ep, err := other.eps.Endpoint("pricing")
	require.NoError(t, err)
	c := modeltest.ReadCases(t, "testdata/xgb_bench.input.csv", "testdata/xgb_bench.expected.csv")
	p, err := ep.Predict(ctx, model.Features{Row: c.Rows[0]})
	require.NoError(t, err)
	require.Equal(t, c.Want[0], p.Value)
}
