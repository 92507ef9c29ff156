package payload_test

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/payload"
)

var features = []model.Feature{
	{Name: "price", Type: model.FeatureFloat},
	{Name: "views", Type: model.FeatureInt},
	{Name: "category", Type: model.FeatureCategorical},
}

var nan = math.NaN()

// same compares rows, NaN equal to NaN.
func same(t *testing.T, want, got [][]float64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Len(t, got[i], len(want[i]), "row %d", i)
		for j := range want[i] {
			if math.IsNaN(want[i][j]) {
				require.True(t, math.IsNaN(got[i][j]), "row %d value %d: %v", i, j, got[i][j])
				continue
			}
			require.Equal(t, want[i][j], got[i][j], "row %d value %d", i, j)
		}
	}
}

func TestPayloadCSV(t *testing.T) {
	tests := []struct {
		name string
		body string
		want [][]float64
		err  string
	}{
		{"rows", "1.5,3,2\n2,4,0\n", [][]float64{{1.5, 3, 2}, {2, 4, 0}}, ""},
		{"CRLF, no final newline, spaces", "1.5, 3 ,2\r\n2,4,0", [][]float64{{1.5, 3, 2}, {2, 4, 0}}, ""},
		{"missing values", ",3,\nnan,,1\n", [][]float64{{nan, 3, nan}, {nan, nan, 1}}, ""},
		{"blank lines skipped", "\n1,2,3\n\n", [][]float64{{1, 2, 3}}, ""},
		{"quoted", `"1.5","3","2"`, [][]float64{{1.5, 3, 2}}, ""},
		{"too few", "1,2\n", nil, "payload: csv line 1 has 2 values; the model expects 3"},
		{"too many", "1,2,3\n1,2,3,4\n", nil, "payload: csv line 2 has more than 3 values; the model expects 3"},
		{"not a number", "1,2,3\n1,abc,3\n", nil, `payload: csv line 2, value 2 (views): "abc" is not a number`},
		{"int type", "1,2.5,3\n", nil, "payload: csv line 1, value 2: 2.5 is not a whole number; feature views is int"},
		{"categorical type", "1,2,-1\n", nil, "payload: csv line 1, value 3: -1 is not a category code (a whole number >= 0); feature category is categorical"},
		{"header", "price,views,category\n1,2,3\n", nil, `payload: csv line 1, value 1 (price): "price" is not a number`},
		{"empty", "", nil, "payload: no rows in the csv body"},
		{"blank", "\n\r\n", nil, "payload: no rows in the csv body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := payload.DecodeCSV([]byte(tt.body), features)
			if tt.err != "" {
				require.ErrorIs(t, err, model.ErrInvalidInput)
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			same(t, tt.want, got)
		})
	}
	require.Equal(t, "0.25\n\n3\n", string(payload.AppendCSV(nil, []float64{0.25, nan, 3})))
	p, err := payload.ParseCSVPredictions([]byte("0.25\n1e-3\n"))
	require.NoError(t, err)
	require.Equal(t, []float64{0.25, 0.001}, p)
	p, err = payload.ParseCSVPredictions([]byte("0.25,3"))
	require.NoError(t, err)
	require.Equal(t, []float64{0.25, 3}, p)
}

func TestPayloadJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want [][]float64
		err  string
	}{
		{"arrays", `{"instances": [[1.5, 3, 2], [2, null, 0]]}`, [][]float64{{1.5, 3, 2}, {2, nan, 0}}, ""},
		{"objects", `{"instances": [{"price": 1.5, "views": 3, "category": 2}, {"views": 1}]}`, [][]float64{{1.5, 3, 2}, {nan, 1, nan}}, ""},
		{"features form", `{"instances": [{"features": [1, 2, 3]}]}`, [][]float64{{1, 2, 3}}, ""},
		{"huge number is inf", `{"instances": [[1e999, 1, 1]]}`, [][]float64{{math.Inf(1), 1, 1}}, ""},
		{"no instances", `{"rows": [[1,2,3]]}`, nil, `payload: the JSON body has no "instances"`},
		{"empty instances", `{"instances": []}`, nil, "payload: no instances"},
		{"malformed", `{"instances": [[1,2,3]`, nil, "payload: malformed JSON"},
		{"not an object", `[[1,2,3]]`, nil, "payload: malformed JSON"},
		{"wrong count", `{"instances": [[1,2,3],[1,2]]}`, nil, "payload: instances[1] has 2 values; the model expects 3"},
		{"string value", `{"instances": [[1,"2",3]]}`, nil, `payload: instances[0][1] (views): want a number or null, got the string "2"`},
		{"bool value", `{"instances": [{"price": true}]}`, nil, "payload: instances[0].price: want a number or null, got a boolean"},
		{"unknown feature", `{"instances": [{"price": 1, "pricee": 2}]}`, nil, `payload: instances[0]: unknown feature "pricee" (the model's features are price, views, category)`},
		{"int type", `{"instances": [{"views": 1.5}]}`, nil, "payload: instances[0].views: 1.5 is not a whole number; feature views is int"},
		{"scalar instance", `{"instances": [5]}`, nil, "payload: instances[0]: want an array of values or an object of feature values, got a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := payload.DecodeJSON([]byte(tt.body), features)
			if tt.err != "" {
				require.ErrorIs(t, err, model.ErrInvalidInput)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			same(t, tt.want, got)
		})
	}
	require.Equal(t, `{"predictions":[0.25,null,3]}`, string(payload.AppendJSON(nil, []float64{0.25, nan, 3})))
	p, err := payload.ParseJSONPredictions([]byte(`{"predictions":[0.25,[0.5],{"score":0.75},null]}`))
	require.NoError(t, err)
	require.Equal(t, []float64{0.25, 0.5, 0.75}, p[:3])
	require.True(t, math.IsNaN(p[3]))
}

func TestPayloadInfer(t *testing.T) {
	tests := []struct {
		name string
		body string
		id   string
		want [][]float64
		err  string
	}{
		{"matrix flat", `{"id":"r1","inputs":[{"name":"input-0","shape":[2,3],"datatype":"FP64","data":[1.5,3,2,2,4,0]}]}`, "r1", [][]float64{{1.5, 3, 2}, {2, 4, 0}}, ""},
		{"matrix nested", `{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP64","data":[[1.5,3,2],[2,null,0]]}]}`, "", [][]float64{{1.5, 3, 2}, {2, nan, 0}}, ""},
		{"one row", `{"inputs":[{"name":"x","shape":[3],"datatype":"INT64","data":[1,3,2]}]}`, "", [][]float64{{1, 3, 2}}, ""},
		{"fp32 rounds", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[0.1,1,2]}]}`, "", [][]float64{{float64(float32(0.1)), 1, 2}}, ""},
		{"columns", `{"inputs":[{"name":"price","shape":[2],"datatype":"FP64","data":[1.5,2]},{"name":"views","shape":[2,1],"datatype":"INT32","data":[[3],[4]]}],"outputs":[{"name":"predict"}]}`,
			"", [][]float64{{1.5, 3, nan}, {2, 4, nan}}, ""},
		{"bool", `{"inputs":[{"name":"category","shape":[1],"datatype":"BOOL","data":[true]}]}`, "", [][]float64{{nan, nan, 1}}, ""},
		{"no inputs", `{"inputs":[]}`, "", nil, "payload: the inference request has no inputs"},
		{"malformed", `{"inputs":`, "", nil, "payload: malformed inference request"},
		{"shape mismatch", `{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP64","data":[1,2,3]}]}`, "", nil, `payload: input "x": shape [2 3] holds 6 values, data has 3`},
		{"wrong width", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`, "", nil, `payload: input "x": shape [1 4]: rows of 4 values, the model expects 3`},
		{"3-d", `{"inputs":[{"name":"x","shape":[1,1,3],"datatype":"FP64","data":[1,2,3]}]}`, "", nil, "want [N, 3]"},
		{"int datatype", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"INT64","data":[1,2.5,3]}]}`, "", nil, `payload: input "x": value 1: 2.5 is not a INT64`},
		{"uint8 range", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"UINT8","data":[1,256,3]}]}`, "", nil, "256 is not a UINT8"},
		{"bytes", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"BYTES","data":["a","b","c"]}]}`, "", nil, "datatype BYTES is not supported"},
		{"unknown datatype", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP8","data":[1,2,3]}]}`, "", nil, `unknown datatype "FP8"`},
		{"string data", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,"2",3]}]}`, "", nil, `value 1: want a number or null, got the string "2"`},
		{"feature type", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,2.5,3]}]}`, "", nil, `payload: input "x", row 0, value 1: 2.5 is not a whole number; feature views is int`},
		{"unknown column", `{"inputs":[{"name":"price","shape":[1],"datatype":"FP64","data":[1]},{"name":"x","shape":[1],"datatype":"FP64","data":[1]}]}`, "", nil, `payload: input "x" is not a feature`},
		{"column rows differ", `{"inputs":[{"name":"price","shape":[1],"datatype":"FP64","data":[1]},{"name":"views","shape":[2],"datatype":"FP64","data":[1,2]}]}`, "", nil, `2 rows where input "price" has 1`},
		{"unknown output", `{"inputs":[{"name":"x","shape":[3],"datatype":"FP64","data":[1,2,3]}],"outputs":[{"name":"proba"}]}`, "", nil, `payload: unknown output "proba"`},
		{"zero rows", `{"inputs":[{"name":"x","shape":[0,3],"datatype":"FP64","data":[]}]}`, "", nil, "the number of rows must be 1-100000"},
		{"no data", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64"}]}`, "", nil, `payload: input "x" has no data`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, got, err := payload.DecodeInfer([]byte(tt.body), features)
			if tt.err != "" {
				require.ErrorIs(t, err, model.ErrInvalidInput)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.id, id)
			same(t, tt.want, got)
		})
	}
	resp := payload.AppendInferResponse(nil, "pricing", "AllTraffic", `a"b`, []float64{0.25, nan})
	require.Equal(t, `{"model_name":"pricing","model_version":"AllTraffic","id":"a\"b","outputs":[{"name":"predict","datatype":"FP64","shape":[2],"data":[0.25,null]}]}`, string(resp))
	r, vals, err := payload.ParseInferResponse(resp)
	require.NoError(t, err)
	require.Equal(t, "AllTraffic", r.ModelVersion)
	require.Equal(t, 0.25, vals[0])
	require.True(t, math.IsNaN(vals[1]))
}

func TestPayloadMediaType(t *testing.T) {
	require.Equal(t, "text/csv", payload.MediaType("text/csv; charset=utf-8"))
	require.Equal(t, "application/json", payload.MediaType("Application/JSON"))
	require.Equal(t, "application/json", payload.MediaType("application/json, text/csv"))
	require.Empty(t, payload.MediaType(""))
}

// checkDecoded is the body of the fuzz tests: an error is an *InputError,
// rows have the features' width and types.
func checkDecoded(t *testing.T, rows [][]float64, err error) {
	if err != nil {
		var ie *model.InputError
		if !errors.As(err, &ie) || !errors.Is(err, model.ErrInvalidInput) {
			t.Fatalf("error %q (%T) is not an *InputError", err, err)
		}
		if rows != nil {
			t.Fatal("rows and an error")
		}
		return
	}
	if len(rows) == 0 {
		t.Fatal("no rows and no error")
	}
	for i, r := range rows {
		if len(r) != len(features) {
			t.Fatalf("row %d has %d values", i, len(r))
		}
		for j, v := range r {
			if !features[j].Type.Check(v) {
				t.Fatalf("row %d value %d: %v is not a %s", i, j, v, features[j].Type)
			}
		}
	}
}

func seeds(f *testing.F, name string) {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range strings.Split(string(b), "\n----\n") {
		f.Add([]byte(s))
	}
}

func FuzzPayloadCSV(f *testing.F) {
	seeds(f, "seed.csv.txt")
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := payload.DecodeCSV(body, features)
		checkDecoded(t, rows, err)
	})
}

func FuzzPayloadJSON(f *testing.F) {
	seeds(f, "seed.json.txt")
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := payload.DecodeJSON(body, features)
		checkDecoded(t, rows, err)
	})
}

func FuzzPayloadInfer(f *testing.F) {
	seeds(f, "seed.infer.txt")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, rows, err := payload.DecodeInfer(body, features)
		checkDecoded(t, rows, err)
	})
}

func FuzzPayloadAnswers(f *testing.F) {
	f.Add([]byte(`{"predictions":[0.25,[0.5],{"score":0.75},null]}`))
	f.Add([]byte("0.25\n3\n"))
	f.Add(payload.AppendInferResponse(nil, "m", "v", "id", []float64{1, 2}))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = payload.ParseJSONPredictions(body)
		_, _ = payload.ParseCSVPredictions(body)
		_, _, _ = payload.ParseInferResponse(body)
	})
}
