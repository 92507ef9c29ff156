package sagemaker_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	smr "github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/sagemaker"
	"github.com/pricestream/pricestream/internal/api/sdktest"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/stream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

const testdata = "../../model/testdata/"

type fixture struct {
	url     string
	sm      *smr.Client
	hc      *http.Client
	eps     *model.Endpoints
	reg     *model.Registry
	streams *stream.Manager
}

// start serves InvokeEndpoint on the one api.Server over a fresh engine
// with endpoint "pricing" (the 100-tree benchmark model, variants blue and
// green) and returns an unmodified AWS SDK client pointed at it.
func start(t testing.TB) *fixture {
	t.Helper()
	e := enginetest.Start(t)
	ctx := context.Background()
	prom := prometheus.NewRegistry()
	reg, err := model.NewRegistry(ctx, model.Config{}, model.Deps{Engine: e})
	require.NoError(t, err)
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: prom})
	require.NoError(t, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, reg, model.Deps{Engine: e, Streams: sm, Registerer: prom})
	require.NoError(t, err)
	data, err := os.ReadFile(testdata + "xgb_bench.json")
	require.NoError(t, err)
	for range 2 {
		_, err = reg.Register(ctx, model.Registration{Model: "pricing", Artifact: data, Status: model.Approved})
		require.NoError(t, err)
	}
	_, err = eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{
		{Name: "blue", Model: "pricing", Version: 1, Weight: model.Weight(1)},
		{Name: "green", Model: "pricing", Version: 2, Weight: model.Weight(0)},
	}}, false)
	require.NoError(t, err)

	h, err := sagemaker.New(sagemaker.Config{}, eps.Endpoint, nil)
	require.NoError(t, err)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Registerer: prom})
	require.NoError(t, err)
	h.Mount(srv)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		require.NoError(t, eps.Close())
		require.NoError(t, sm.Close())
	})
	url := "http://" + srv.Addr().String()
	smc := smr.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(url),
		HTTPClient:       sdktest.HTTPClient{Client: hc},
		RetryMaxAttempts: 1,
	})
	return &fixture{url: url, sm: smc, hc: hc, eps: eps, reg: reg, streams: sm}
}

func cases(t testing.TB) modeltest.Cases {
	return modeltest.ReadCases(t, testdata+"xgb_bench.input.csv", testdata+"xgb_bench.expected.csv")
}

func csvBody(rows [][]float64) []byte {
	var b []byte
	for _, row := range rows {
		for j, v := range row {
			if j > 0 {
				b = append(b, ',')
			}
			if !math.IsNaN(v) {
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			}
		}
		b = append(b, '\n')
	}
	return b
}

func TestSageMakerSDKInvokeCSV(t *testing.T) {
	f := start(t)
	c := cases(t)
	ctx := context.Background()
	out, err := f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{
		EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: csvBody(c.Rows),
	})
	require.NoError(t, err)
	require.Equal(t, "text/csv", aws.ToString(out.ContentType))
	require.Equal(t, "blue", aws.ToString(out.InvokedProductionVariant))
	lines := strings.Split(strings.TrimSuffix(string(out.Body), "\n"), "\n")
	require.Len(t, lines, len(c.Rows))
	for i, l := range lines {
		got, err := strconv.ParseFloat(l, 64)
		require.NoError(t, err)
		require.Equal(t, c.Want[i], got, "row %d: bit-exact with XGBoost, missing values included", i)
	}

	// TargetVariant pins a variant, even one of weight 0.
	out, err = f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{
		EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: csvBody(c.Rows[:1]), TargetVariant: aws.String("green"),
	})
	require.NoError(t, err)
	require.Equal(t, "green", aws.ToString(out.InvokedProductionVariant))
	require.Equal(t, strconv.FormatFloat(c.Want[0], 'g', -1, 64)+"\n", string(out.Body))
}

func TestSageMakerSDKInvokeJSON(t *testing.T) {
	f := start(t)
	c := cases(t)
	ctx := context.Background()
	var b strings.Builder
	b.WriteString(`{"instances": [`)
	for i, row := range c.Rows[:3] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		first := true
		for j, v := range row {
			if math.IsNaN(v) {
				continue // a feature left out is missing
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			fmt.Fprintf(&b, `"f%02d": %s`, j, strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	out, err := f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{
		EndpointName: aws.String("pricing"), ContentType: aws.String("application/json"), Body: []byte(b.String()),
	})
	require.NoError(t, err)
	require.Equal(t, "application/json", aws.ToString(out.ContentType))
	want := fmt.Sprintf(`{"predictions":[%s,%s,%s]}`, strconv.FormatFloat(c.Want[0], 'g', -1, 64), strconv.FormatFloat(c.Want[1], 'g', -1, 64), strconv.FormatFloat(c.Want[2], 'g', -1, 64))
	require.Equal(t, want, string(out.Body))

	// Arrays in, CSV out as Accept asks.
	body := `{"instances": [` + strings.TrimSuffix(strings.ReplaceAll(string(csvBody(c.Rows[:2])), "\n", "],["), ",[") + "]}"
	body = strings.Replace(body, `"instances": [`, `"instances": [[`, 1)
	body = strings.ReplaceAll(body, ",,", ",null,")
	out, err = f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{
		EndpointName: aws.String("pricing"), ContentType: aws.String("application/json"), Accept: aws.String("text/csv"), Body: []byte(body),
	})
	require.NoError(t, err, body)
	require.Equal(t, "text/csv", aws.ToString(out.ContentType))
	require.Equal(t, strconv.FormatFloat(c.Want[0], 'g', -1, 64)+"\n"+strconv.FormatFloat(c.Want[1], 'g', -1, 64)+"\n", string(out.Body))
}

func TestSageMakerSDKErrors(t *testing.T) {
	f := start(t)
	c := cases(t)
	ctx := context.Background()
	invoke := func(in smr.InvokeEndpointInput) error {
		if in.EndpointName == nil {
			in.EndpointName = aws.String("pricing")
		}
		if in.ContentType == nil {
			in.ContentType = aws.String("text/csv")
		}
		_, err := f.sm.InvokeEndpoint(ctx, &in)
		return err
	}

	// SageMaker itself refuses: ValidationError, 400.
	err := invoke(smr.InvokeEndpointInput{EndpointName: aws.String("nope"), Body: csvBody(c.Rows[:1])})
	var ve *types.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Endpoint nope of account 000000000000 not found.", ve.ErrorMessage())
	requireStatus(t, err, 400)
	err = invoke(smr.InvokeEndpointInput{Body: csvBody(c.Rows[:1]), TargetVariant: aws.String("red")})
	require.ErrorAs(t, err, &ve)
	require.Contains(t, ve.ErrorMessage(), `endpoint pricing has no production variant "red" (it has blue, green)`)

	// The model refuses: ModelError, 424, with the container's status.
	tests := []struct {
		name   string
		in     smr.InvokeEndpointInput
		status int32
		msg    string
	}{
		{"short row", smr.InvokeEndpointInput{Body: []byte("1,2,3\n")}, 400, "payload: csv line 1 has 3 values; the model expects 20"},
		{"not a number", smr.InvokeEndpointInput{Body: []byte(strings.Repeat("1,", 19) + "x\n")}, 400, `payload: csv line 1, value 20 (f19): "x" is not a number`},
		{"malformed JSON", smr.InvokeEndpointInput{ContentType: aws.String("application/json"), Body: []byte(`{"instances": [`)}, 400, "payload: malformed JSON"},
		{"unknown feature", smr.InvokeEndpointInput{ContentType: aws.String("application/json"), Body: []byte(`{"instances": [{"price": 1}]}`)}, 400, `unknown feature "price"`},
		{"content type", smr.InvokeEndpointInput{ContentType: aws.String("application/x-recordio-protobuf"), Body: []byte("x")}, 415, "content type \"application/x-recordio-protobuf\" is not supported"},
		{"accept", smr.InvokeEndpointInput{Accept: aws.String("application/jsonlines"), Body: csvBody(c.Rows[:1])}, 406, "cannot answer in \"application/jsonlines\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := invoke(tt.in)
			var me *types.ModelError
			require.ErrorAs(t, err, &me)
			require.Equal(t, tt.status, aws.ToInt32(me.OriginalStatusCode))
			require.Contains(t, aws.ToString(me.OriginalMessage), tt.msg)
			require.Contains(t, me.ErrorMessage(), fmt.Sprintf("Received client error (%d) from primary", tt.status))
			requireStatus(t, err, 424)
		})
	}
}

func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	var re interface{ HTTPStatusCode() int }
	require.ErrorAs(t, err, &re)
	require.Equal(t, status, re.HTTPStatusCode())
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
}

func TestSageMakerBodyLimit(t *testing.T) {
	f := start(t)
	big := strings.Repeat("1,", 19) + "1\n"
	body := strings.Repeat(big, sagemaker.DefaultMaxBodyBytes/len(big)+1)
	_, err := f.sm.InvokeEndpoint(context.Background(), &smr.InvokeEndpointInput{
		EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: []byte(body),
	})
	var ve *types.ValidationError
	require.ErrorAs(t, err, &ve)
	requireStatus(t, err, 413)
}

// TestSageMakerContainerContract serves the container contract (GET
// /ping, POST /invocations) with two static endpoints: the target-model
// header picks one, as in a multi-model container.
func TestSageMakerContainerContract(t *testing.T) {
	load := func(file string) *model.Endpoint {
		data, err := os.ReadFile(testdata + file)
		require.NoError(t, err)
		rt, err := model.Load("", data)
		require.NoError(t, err)
		ep, err := model.NewStaticEndpoint(strings.Split(file, ".")[0], rt, nil)
		require.NoError(t, err)
		return ep
	}
	eps := map[string]*model.Endpoint{"xgb_bench": load("xgb_bench.json"), "linear_reg": load("linear_reg.json")}
	lookup := func(name string) (*model.Endpoint, error) {
		if ep := eps[name]; ep != nil {
			return ep, nil
		}
		return nil, model.ErrNotFound
	}
	h, err := sagemaker.New(sagemaker.Config{}, lookup, nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.MountContainer(mux, "")
	srv := &http.Server{Handler: mux}
	ln, err := netListen()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	url := "http://" + ln.Addr().String()

	resp, err := hc.Get(url + "/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	post := func(target, ct, body string) (int, string, http.Header) {
		req, err := http.NewRequest(http.MethodPost, url+"/invocations", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ct)
		if target != "" {
			req.Header.Set(sagemaker.HeaderTargetModel, target)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b), resp.Header
	}
	c := cases(t)
	status, body, hdr := post("xgb_bench.json", "text/csv", string(csvBody(c.Rows[:1])))
	require.Equal(t, 200, status, body)
	require.Equal(t, strconv.FormatFloat(c.Want[0], 'g', -1, 64)+"\n", body)
	require.Equal(t, "AllTraffic", hdr.Get(sagemaker.HeaderInvokedVariant))
	status, body, _ = post("", "text/csv", "1,2\n")
	require.Equal(t, 400, status)
	require.Contains(t, body, "several models are loaded")
	status, body, _ = post("xgb_bench", "text/csv", "1,2\n")
	require.Equal(t, 400, status, "the container's own status, not SageMaker's 424")
	require.Contains(t, body, "payload: csv line 1 has 2 values; the model expects 20")
	status, _, _ = post("nope", "text/csv", "1\n")
	require.Equal(t, 404, status)
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestSageMakerUpdateUnderLoad shifts traffic between the variants while
// SDK clients invoke the endpoint: no request fails, and the answers come
// from the variants the definitions allow.
func TestSageMakerUpdateUnderLoad(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	body := csvBody(cases(t).Rows[:3])
	var stop atomic.Bool
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				out, err := f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: body})
				if err != nil {
					t.Errorf("invoke during update: %v", err)
					return
				}
				if v := aws.ToString(out.InvokedProductionVariant); v != "blue" && v != "green" {
					t.Errorf("answered by %q", v)
					return
				}
				calls.Add(1)
			}
		})
	}
	weights := [][2]float64{{0, 1}, {1, 1}, {1, 0}, {0, 1}, {1, 0}}
	for _, w := range weights {
		_, err := f.eps.Update(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{
			{Name: "blue", Model: "pricing", Version: 1, Weight: model.Weight(w[0])},
			{Name: "green", Model: "pricing", Version: 2, Weight: model.Weight(w[1])},
		}}, false)
		require.NoError(t, err)
	}
	stop.Store(true)
	wg.Wait()
	require.Positive(t, calls.Load())
	out, err := f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: body})
	require.NoError(t, err)
	require.Equal(t, "blue", aws.ToString(out.InvokedProductionVariant), "the last definition serves")
}

// TestSageMakerDataCapture: requests over HTTP land in the capture stream
// with their content type and inference id.
func TestSageMakerDataCapture(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	_, err := f.streams.Create(ctx, stream.Spec{Name: "captured", Partitions: 1})
	require.NoError(t, err)
	_, err = f.eps.Update(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Name: "blue", Model: "pricing", Version: 1}},
		Capture: &model.CaptureConfig{Stream: "captured"}}, false)
	require.NoError(t, err)
	_, err = f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{
		EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: csvBody(cases(t).Rows[:2]), InferenceId: aws.String("order-42"),
	})
	require.NoError(t, err)
	st, err := f.streams.Open(ctx, "captured")
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := st.Read(ctx, 0, stream.Position{}, stream.ReadOptions{})
		require.NoError(t, err)
		if len(res.Records) > 0 {
			rec := res.Records[0]
			require.Equal(t, "order-42", rec.PartitionKey)
			require.Contains(t, string(rec.Data), `"inference_id":"order-42","content_type":"text/csv"`)
			require.Contains(t, string(rec.Data), `"variant":"blue"`)
			return
		}
		require.True(t, time.Now().Before(deadline), "nothing captured")
		<-time.After(5 * time.Millisecond) // poll again
	}
}
