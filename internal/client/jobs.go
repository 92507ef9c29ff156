package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/etl"
)

// ApplyJob applies a job document (YAML or JSON).
func (c *Client) ApplyJob(ctx context.Context, doc []byte) (*etl.ApplyResult, error) {
	var out etl.ApplyResult
	return &out, c.do(ctx, http.MethodPost, "/v1/jobs", doc, &out)
}

// ListJobs lists the jobs' names.
func (c *Client) ListJobs(ctx context.Context) ([]string, error) {
	var out api.JobList
	return out.Jobs, c.do(ctx, http.MethodGet, "/v1/jobs", nil, &out)
}

// DescribeJob returns a job's document.
func (c *Client) DescribeJob(ctx context.Context, name string) (*etl.Spec, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(name), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b := make([]byte, 0, 4096)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return etl.Decode(b)
}

// DeleteJob deletes a job.
func (c *Client) DeleteJob(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/jobs/"+url.PathEscape(name), nil, nil)
}

// StartJob sets a job to run.
func (c *Client) StartJob(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(name)+"/start", nil, nil)
}

// StopJob sets a job to stop.
func (c *Client) StopJob(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(name)+"/stop", nil, nil)
}

// JobStatus returns a job's state and counters.
func (c *Client) JobStatus(ctx context.Context, name string) (*etl.Status, error) {
	var out etl.Status
	return &out, c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(name)+"/status", nil, &out)
}

// JobDeadLetters lists up to limit dead letters of a job.
func (c *Client) JobDeadLetters(ctx context.Context, name string, limit int) ([]etl.DeadLetter, error) {
	var out api.DeadLetterList
	return out.DeadLetters, c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(name)+"/dlq?limit="+strconv.Itoa(limit), nil, &out)
}

// ReplayJobDeadLetters sends a job's dead letters through it again.
func (c *Client) ReplayJobDeadLetters(ctx context.Context, name string, limit int) (int, error) {
	var out api.ReplayResult
	err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(name)+"/replay-dlq?limit="+strconv.Itoa(limit), nil, &out)
	return out.Replayed, err
}
