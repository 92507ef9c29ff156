package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/model"
)

// RegisterModel registers a new version of a model package and returns it.
func (c *Client) RegisterModel(ctx context.Context, name string, reg api.ModelRegistration) (*model.Version, error) {
	var out model.Version
	return &out, c.do(ctx, http.MethodPost, "/v1/models/"+url.PathEscape(name)+"/versions", reg, &out)
}

// ListModels summarises the model packages.
func (c *Client) ListModels(ctx context.Context) ([]model.Package, error) {
	var out struct {
		Models []model.Package `json:"models"`
	}
	return out.Models, c.do(ctx, http.MethodGet, "/v1/models", nil, &out)
}

// DescribeModel returns every version of a model package.
func (c *Client) DescribeModel(ctx context.Context, name string) (*api.ModelInfo, error) {
	var out api.ModelInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/models/"+url.PathEscape(name), nil, &out)
}

func versionPath(name string, version int) string {
	return "/v1/models/" + url.PathEscape(name) + "/versions/" + strconv.Itoa(version)
}

// ModelVersion returns one version of a model package.
func (c *Client) ModelVersion(ctx context.Context, name string, version int) (*model.Version, error) {
	var out model.Version
	return &out, c.do(ctx, http.MethodGet, versionPath(name, version), nil, &out)
}

// SetModelStatus sets a version's approval status.
func (c *Client) SetModelStatus(ctx context.Context, name string, version int, status model.ApprovalStatus) (*model.Version, error) {
	var out model.Version
	return &out, c.do(ctx, http.MethodPatch, versionPath(name, version), api.ModelVersionUpdate{Status: string(status)}, &out)
}

// ModelArtifact returns a version's model file.
func (c *Client) ModelArtifact(ctx context.Context, name string, version int) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, versionPath(name, version)+"/artifact", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// CreateEndpoint creates an endpoint and returns it once the server serves
// it.
func (c *Client) CreateEndpoint(ctx context.Context, spec api.EndpointSpec) (*model.EndpointInfo, error) {
	var out model.EndpointInfo
	return &out, c.do(ctx, http.MethodPost, "/v1/endpoints", spec, &out)
}

// UpdateEndpoint replaces an endpoint's definition and returns it once the
// server serves it.
func (c *Client) UpdateEndpoint(ctx context.Context, spec api.EndpointSpec) (*model.EndpointInfo, error) {
	var out model.EndpointInfo
	return &out, c.do(ctx, http.MethodPut, "/v1/endpoints/"+url.PathEscape(spec.Name), spec, &out)
}

// DescribeEndpoint describes an endpoint.
func (c *Client) DescribeEndpoint(ctx context.Context, name string) (*model.EndpointInfo, error) {
	var out model.EndpointInfo
	return &out, c.do(ctx, http.MethodGet, "/v1/endpoints/"+url.PathEscape(name), nil, &out)
}

// ListEndpoints describes every endpoint.
func (c *Client) ListEndpoints(ctx context.Context) ([]*model.EndpointInfo, error) {
	var out struct {
		Endpoints []*model.EndpointInfo `json:"endpoints"`
	}
	return out.Endpoints, c.do(ctx, http.MethodGet, "/v1/endpoints", nil, &out)
}

// DeleteEndpoint deletes an endpoint.
func (c *Client) DeleteEndpoint(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/endpoints/"+url.PathEscape(name), nil, nil)
}

// Invoke calls an endpoint as SageMaker's InvokeEndpoint does: body in
// contentType (text/csv or application/json), the answer in accept (empty:
// the same type), variant pinning a production variant when not empty.
// It returns the answer and the variant that gave it.
func (c *Client) Invoke(ctx context.Context, endpoint, contentType, accept, variant string, body []byte) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/endpoints/"+url.PathEscape(endpoint)+"/invocations", bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if variant != "" {
		req.Header.Set("X-Amzn-SageMaker-Target-Variant", variant)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Message         string `json:"message"`
			OriginalMessage string `json:"OriginalMessage"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil {
			if e.OriginalMessage != "" {
				msg = e.OriginalMessage
			} else if e.Message != "" {
				msg = e.Message
			}
		}
		return nil, "", &Error{Status: resp.StatusCode, Code: resp.Header.Get("X-Amzn-ErrorType"), Message: msg}
	}
	return b, resp.Header.Get("X-Amzn-Invoked-Production-Variant"), nil
}
