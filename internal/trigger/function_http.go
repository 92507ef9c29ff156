package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// HTTPFunction posts each batch to a URL as the event Lambda would give a
// function ({"Records": [...]}, Content-Type application/json). A 2xx
// answer is success; its body may be a partial-batch response
// ({"batchItemFailures": [{"itemIdentifier": SEQ}]}); an empty body or
// any other JSON means every record succeeded. Any other status, a
// transport error or the function timeout (the context's deadline) is a
// failure, retried by the runner with backoff and jitter.
//
// An HTTPFunction is safe for concurrent use.
type HTTPFunction struct {
	url    string
	client *http.Client
}

var _ Function = (*HTTPFunction)(nil)

// NewHTTPFunction returns a function that posts to url with client (nil:
// a client of its own with keep-alive connections).
func NewHTTPFunction(url string, client *http.Client) *HTTPFunction {
	if client == nil {
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: http.ProxyFromEnvironment}}
	}
	return &HTTPFunction{url: url, client: client}
}

// maxHTTPResponse bounds a function's answer (Lambda's 6 MB).
const maxHTTPResponse = 6 << 20

// Invoke posts the batch.
func (f *HTTPFunction) Invoke(ctx context.Context, b *Batch) (Response, error) {
	// The transport may read the body after Do returns, so it is not
	// pooled.
	body := b.AppendEvent(make([]byte, 0, 256*len(b.Records)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return Response{}, &FunctionError{Err: fmt.Errorf("trigger: http function: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Pricestream-Trigger", b.Trigger)
	resp, err := f.client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("trigger: http function %s: %w", f.url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPResponse+1))
	if err != nil {
		return Response{}, fmt.Errorf("trigger: http function %s: read answer: %w", f.url, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := bytes.TrimSpace(out)
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return Response{}, fmt.Errorf("trigger: http function %s answered %d: %s", f.url, resp.StatusCode, msg)
	}
	if len(out) > maxHTTPResponse {
		return Response{}, fmt.Errorf("trigger: http function %s: answer larger than %d bytes", f.url, maxHTTPResponse)
	}
	return parseResponse(out)
}

// parseResponse reads a function's answer: empty, null, or any JSON value
// without batch item failures means success.
func parseResponse(out []byte) (Response, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 || out[0] != '{' {
		return Response{}, nil
	}
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier any `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return Response{}, fmt.Errorf("trigger: function answer is not a partial-batch response: %w", err)
	}
	var resp Response
	for _, f := range r.BatchItemFailures {
		id, ok := f.ItemIdentifier.(string)
		if !ok {
			// Lambda fails the whole batch on an empty or malformed
			// identifier; an identifier that names no record does it.
			id = fmt.Sprint(f.ItemIdentifier)
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, BatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}
