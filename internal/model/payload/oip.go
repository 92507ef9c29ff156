package payload

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/model"
)

// OutputName names the one output tensor of an Open Inference Protocol
// answer.
const OutputName = "predict"

// Tensor is an Open Inference Protocol tensor as JSON carries it.
type Tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// InferRequest is an Open Inference Protocol v2 inference request.
type InferRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []Tensor       `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

// DecodeInfer reads an inference request and returns its id and rows. The
// inputs take one of two forms:
//
//   - one tensor of shape [N, F] (or [F] for one row) holding N rows of
//     the F features in order, row-major, flat or nested;
//   - one tensor per feature, named after it, each of shape [N] or [N, 1]
//     (columns); a feature without a tensor is missing.
//
// Datatypes: FP16, FP32, FP64, INT8-64, UINT8-64 and BOOL; values of FP32
// and FP16 tensors are rounded to that precision, integer tensors must
// hold whole numbers in range. JSON null is accepted as a missing value.
// A requested output other than "predict" is refused.
func DecodeInfer(body []byte, features []model.Feature) (id string, rows [][]float64, err error) {
	var req InferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return "", nil, model.InputErrorf("payload: malformed inference request: %v", jsonMessage(err))
	}
	for _, o := range req.Outputs {
		if o.Name != OutputName {
			return "", nil, model.InputErrorf("payload: unknown output %q (the model has one output, %q)", o.Name, OutputName)
		}
	}
	if len(req.Inputs) == 0 {
		return "", nil, model.InputErrorf("payload: the inference request has no inputs")
	}
	n := len(features)
	index := make(map[string]int, n)
	for j, f := range features {
		index[f.Name] = j
	}
	if _, named := index[req.Inputs[0].Name]; len(req.Inputs) == 1 && !named {
		rows, err := decodeMatrix(&req.Inputs[0], features)
		return req.ID, rows, err
	}
	rows, err = decodeColumns(req.Inputs, features, index)
	return req.ID, rows, err
}

func decodeMatrix(t *Tensor, features []model.Feature) ([][]float64, error) {
	n := len(features)
	var rowsN int64
	switch len(t.Shape) {
	case 1:
		rowsN = 1
		if t.Shape[0] != int64(n) {
			return nil, model.InputErrorf("payload: input %q: shape %v: one row of %d values, the model expects %d (shape [N, %d] for N rows)", t.Name, t.Shape, t.Shape[0], n, n)
		}
	case 2:
		rowsN = t.Shape[0]
		if t.Shape[1] != int64(n) {
			return nil, model.InputErrorf("payload: input %q: shape %v: rows of %d values, the model expects %d", t.Name, t.Shape, t.Shape[1], n)
		}
	default:
		return nil, model.InputErrorf("payload: input %q: shape %v: want [N, %d] (rows of features) or one tensor per feature", t.Name, t.Shape, n)
	}
	if rowsN < 1 || rowsN > MaxRows {
		return nil, model.InputErrorf("payload: input %q: shape %v: the number of rows must be 1-%d", t.Name, t.Shape, MaxRows)
	}
	vals, err := tensorValues(t, int(rowsN)*n)
	if err != nil {
		return nil, err
	}
	rows := make([][]float64, rowsN)
	for i := range rows {
		row := vals[i*n : (i+1)*n : (i+1)*n]
		for j, v := range row {
			if err := checkValue(&features[j], v); err != nil {
				return nil, model.InputErrorf("payload: input %q, row %d, value %d: %v", t.Name, i, j, err)
			}
		}
		rows[i] = row
	}
	return rows, nil
}

func decodeColumns(inputs []Tensor, features []model.Feature, index map[string]int) ([][]float64, error) {
	n := len(features)
	var rowsN int64 = -1
	cols := make([][]float64, n)
	for i := range inputs {
		t := &inputs[i]
		j, ok := index[t.Name]
		if !ok {
			return nil, model.InputErrorf("payload: input %q is not a feature (send one tensor [N, %d] of rows, or one tensor per feature named after it; the features are %s)", t.Name, n, featureList(features))
		}
		if cols[j] != nil {
			return nil, model.InputErrorf("payload: input %q appears twice", t.Name)
		}
		if len(t.Shape) == 0 || len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) {
			return nil, model.InputErrorf("payload: input %q: shape %v: a feature's tensor has shape [N] or [N, 1]", t.Name, t.Shape)
		}
		if rowsN == -1 {
			rowsN = t.Shape[0]
			if rowsN < 1 || rowsN > MaxRows {
				return nil, model.InputErrorf("payload: input %q: shape %v: the number of rows must be 1-%d", t.Name, t.Shape, MaxRows)
			}
		} else if t.Shape[0] != rowsN {
			return nil, model.InputErrorf("payload: input %q: shape %v: %d rows where input %q has %d", t.Name, t.Shape, t.Shape[0], inputs[0].Name, rowsN)
		}
		vals, err := tensorValues(t, int(rowsN))
		if err != nil {
			return nil, err
		}
		for r, v := range vals {
			if err := checkValue(&features[j], v); err != nil {
				return nil, model.InputErrorf("payload: input %q, row %d: %v", t.Name, r, err)
			}
		}
		cols[j] = vals
	}
	flat := make([]float64, int(rowsN)*n)
	rows := make([][]float64, rowsN)
	for r := range rows {
		row := flat[r*n : (r+1)*n : (r+1)*n]
		for j := range row {
			if cols[j] == nil {
				row[j] = math.NaN()
			} else {
				row[j] = cols[j][r]
			}
		}
		rows[r] = row
	}
	return rows, nil
}

// tensorValues reads want values of a tensor's data, flat or nested, and
// converts them to its datatype.
func tensorValues(t *Tensor, want int) ([]float64, error) {
	conv, err := converter(t.Datatype)
	if err != nil {
		return nil, model.InputErrorf("payload: input %q: %v", t.Name, err)
	}
	// Each value takes at least two bytes of data: do not let a shape
	// claim more memory than the body could fill.
	vals := make([]float64, 0, min(want, len(t.Data)/2+1))
	var walk func(raw []byte, depth int) error
	walk = func(raw []byte, depth int) error {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			if depth > 2 {
				return fmt.Errorf("data is nested deeper than its shape")
			}
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("data: %v", jsonMessage(err))
			}
			for _, it := range items {
				if len(vals) > want {
					return nil
				}
				if err := walk(it, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		var v float64
		var err error
		if t.Datatype == "BOOL" && (string(raw) == "true" || string(raw) == "false") {
			v = map[bool]float64{true: 1, false: 0}[string(raw) == "true"]
		} else if v, err = jsonValue(raw); err != nil {
			return fmt.Errorf("value %d: %v", len(vals), err)
		}
		if v, err = conv(v); err != nil {
			return fmt.Errorf("value %d: %v", len(vals), err)
		}
		vals = append(vals, v)
		return nil
	}
	if len(t.Data) == 0 {
		return nil, model.InputErrorf("payload: input %q has no data", t.Name)
	}
	// The common case, a flat array of numbers and nulls, decodes in one
	// pass; nested data, booleans and errors take the walk.
	if flat, ok := parseFlat(t.Data, make([]float64, 0, min(want, len(t.Data)/2+1))); ok && len(flat) == want {
		for i, v := range flat {
			if flat[i], err = conv(v); err != nil {
				return nil, model.InputErrorf("payload: input %q: value %d: %v", t.Name, i, err)
			}
		}
		return flat, nil
	}
	if err := walk(t.Data, 0); err != nil {
		return nil, model.InputErrorf("payload: input %q: %v", t.Name, err)
	}
	if len(vals) != want {
		return nil, model.InputErrorf("payload: input %q: shape %v holds %d values, data has %d", t.Name, t.Shape, want, len(vals))
	}
	return vals, nil
}

func converter(datatype string) (func(float64) (float64, error), error) {
	integer := func(lo, hi float64) func(float64) (float64, error) {
		return func(v float64) (float64, error) {
			if math.IsNaN(v) {
				return v, nil
			}
			if v != math.Trunc(v) || v < lo || v > hi {
				return 0, fmt.Errorf("%v is not a %s", v, datatype)
			}
			return v, nil
		}
	}
	switch datatype {
	case "FP64":
		return func(v float64) (float64, error) { return v, nil }, nil
	case "FP32", "FP16":
		return func(v float64) (float64, error) { return float64(float32(v)), nil }, nil
	case "INT8":
		return integer(math.MinInt8, math.MaxInt8), nil
	case "INT16":
		return integer(math.MinInt16, math.MaxInt16), nil
	case "INT32":
		return integer(math.MinInt32, math.MaxInt32), nil
	case "INT64":
		return integer(-(1 << 63), 1<<63), nil
	case "UINT8":
		return integer(0, math.MaxUint8), nil
	case "UINT16":
		return integer(0, math.MaxUint16), nil
	case "UINT32":
		return integer(0, math.MaxUint32), nil
	case "UINT64":
		return integer(0, 1<<64), nil
	case "BOOL":
		return integer(0, 1), nil
	case "BYTES":
		return nil, fmt.Errorf("datatype BYTES is not supported; the model takes numbers")
	}
	return nil, fmt.Errorf("unknown datatype %q (want FP32, FP64, INT64 …)", datatype)
}

// AppendInferResponse appends an Open Inference Protocol v2 inference
// response holding preds as the FP64 tensor "predict" of shape [N]; NaN
// becomes null.
func AppendInferResponse(dst []byte, modelName, modelVersion, id string, preds []float64) []byte {
	dst = append(dst, `{"model_name":`...)
	dst = strconv.AppendQuote(dst, modelName)
	if modelVersion != "" {
		dst = append(dst, `,"model_version":`...)
		dst = strconv.AppendQuote(dst, modelVersion)
	}
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = jsonstr.AppendHTMLSafe(dst, id)
	}
	dst = append(dst, `,"outputs":[{"name":"`+OutputName+`","datatype":"FP64","shape":[`...)
	dst = strconv.AppendInt(dst, int64(len(preds)), 10)
	dst = append(dst, `],"data":[`...)
	for i, p := range preds {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendJSONFloat(dst, p)
	}
	return append(dst, "]}]}"...)
}

// InferResponse is an Open Inference Protocol v2 inference response.
type InferResponse struct {
	ModelName    string   `json:"model_name"`
	ModelVersion string   `json:"model_version,omitempty"`
	ID           string   `json:"id,omitempty"`
	Outputs      []Tensor `json:"outputs"`
}

// ParseInferResponse reads the predictions of an inference response: the
// data of its first output (or of the one named "predict"), flattened.
func ParseInferResponse(body []byte) (*InferResponse, []float64, error) {
	var resp InferResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, nil, fmt.Errorf("payload: malformed inference response: %v", jsonMessage(err))
	}
	if len(resp.Outputs) == 0 {
		return nil, nil, fmt.Errorf("payload: the inference response has no outputs")
	}
	out := &resp.Outputs[0]
	for i := range resp.Outputs {
		if resp.Outputs[i].Name == OutputName {
			out = &resp.Outputs[i]
		}
	}
	want := int64(1)
	for _, d := range out.Shape {
		want *= d
	}
	if want < 0 || want > MaxRows {
		return nil, nil, fmt.Errorf("payload: output %q: bad shape %v", out.Name, out.Shape)
	}
	vals, err := tensorValues(out, int(want))
	if err != nil {
		return nil, nil, err
	}
	return &resp, vals, nil
}
