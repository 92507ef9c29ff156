package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/trigger"
)

// CreateTrigger creates a trigger; it fails with code already_exists when
// one of that name exists.
func (c *Client) CreateTrigger(ctx context.Context, spec *trigger.Spec) (*trigger.Definition, error) {
	var out trigger.Definition
	return &out, c.do(ctx, http.MethodPost, "/v1/triggers", spec, &out)
}

// ApplyTrigger creates the trigger or replaces its spec.
func (c *Client) ApplyTrigger(ctx context.Context, spec *trigger.Spec) (*api.TriggerApplied, error) {
	var out api.TriggerApplied
	return &out, c.do(ctx, http.MethodPut, "/v1/triggers/"+url.PathEscape(spec.Name), spec, &out)
}

// ListTriggers lists the triggers.
func (c *Client) ListTriggers(ctx context.Context) ([]*trigger.Definition, error) {
	var out api.TriggerList
	return out.Triggers, c.do(ctx, http.MethodGet, "/v1/triggers", nil, &out)
}

// DescribeTrigger returns a trigger's definition and status: state, and
// per partition checkpoint, lag and counters.
func (c *Client) DescribeTrigger(ctx context.Context, name string) (*trigger.Status, error) {
	var out trigger.Status
	return &out, c.do(ctx, http.MethodGet, "/v1/triggers/"+url.PathEscape(name), nil, &out)
}

// EnableTrigger enables a trigger; it resumes from its checkpoints.
func (c *Client) EnableTrigger(ctx context.Context, name string) (*trigger.Definition, error) {
	var out trigger.Definition
	return &out, c.do(ctx, http.MethodPost, "/v1/triggers/"+url.PathEscape(name)+"/enable", nil, &out)
}

// DisableTrigger disables a trigger; it keeps its checkpoints.
func (c *Client) DisableTrigger(ctx context.Context, name string) (*trigger.Definition, error) {
	var out trigger.Definition
	return &out, c.do(ctx, http.MethodPost, "/v1/triggers/"+url.PathEscape(name)+"/disable", nil, &out)
}

// DeleteTrigger deletes a trigger and its checkpoints.
func (c *Client) DeleteTrigger(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/triggers/"+url.PathEscape(name), nil, nil)
}
