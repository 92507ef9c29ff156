package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/auth"
)

// CreateKey creates an API key; the answer holds its token, shown once.
func (c *Client) CreateKey(ctx context.Context, name string, scopes []string) (*api.KeyCreated, error) {
	var out api.KeyCreated
	return &out, c.do(ctx, http.MethodPost, "/v1/auth/keys", api.KeyRequest{Name: name, Scopes: scopes}, &out)
}

// ListKeys lists API keys (without their secrets).
func (c *Client) ListKeys(ctx context.Context) ([]*auth.KeyInfo, error) {
	var out struct {
		Keys []*auth.KeyInfo `json:"keys"`
	}
	return out.Keys, c.do(ctx, http.MethodGet, "/v1/auth/keys", nil, &out)
}

// RevokeKey revokes an API key.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/auth/keys/"+url.PathEscape(id), nil, nil)
}
