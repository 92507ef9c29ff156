package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/pricing"
)

// PricingControls returns the kill switch and the frozen products.
func (c *Client) PricingControls(ctx context.Context) (*pricing.ControlState, error) {
	var out pricing.ControlState
	return &out, c.do(ctx, http.MethodGet, "/v1/pricing/controls", nil, &out)
}

// SetKillSwitch turns the pricing kill switch on or off.
func (c *Client) SetKillSwitch(ctx context.Context, on bool, reason string) (*pricing.ControlState, error) {
	var out pricing.ControlState
	return &out, c.do(ctx, http.MethodPut, "/v1/pricing/kill-switch", api.ControlRequest{On: on, Reason: reason}, &out)
}

// Freeze freezes (or, with frozen false, unfreezes) a product's price.
func (c *Client) Freeze(ctx context.Context, product string, frozen bool, reason string) (*pricing.ControlState, error) {
	var out pricing.ControlState
	path := "/v1/pricing/freezes/" + url.PathEscape(product)
	if !frozen {
		return &out, c.do(ctx, http.MethodDelete, path, nil, &out)
	}
	return &out, c.do(ctx, http.MethodPut, path, api.ControlRequest{Reason: reason}, &out)
}
