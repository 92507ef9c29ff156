package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kds "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/client"
)

const bootstrap = "bootstrap-token-0123456789"

// startSecure runs an app with authentication on, the bootstrap token and
// one pair of AWS credentials scoped to putting to the stream "clicks".
func startSecure(t *testing.T, mutate ...func(*Config)) (*App, string) {
	t.Helper()
	secure := func(cfg *Config) {
		cfg.Auth = auth.Config{
			Enabled:        true,
			BootstrapToken: bootstrap,
			AWSCredentials: []auth.AWSCredential{{AccessKeyID: "AKIDCLICKS", SecretAccessKey: "clicks-secret", Scopes: []string{"stream:clicks:put", "stream:clicks:read"}}},
		}
	}
	a := runApp(t, append([]func(*Config){secure}, mutate...)...)
	scheme := "http://"
	if a.cfg.HTTP.TLSCertFile != "" {
		scheme = "https://"
	}
	return a, scheme + a.Addr()
}

var wildcard = regexp.MustCompile(`\{([a-z]+)(\.\.\.)?\}`)

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestSecurityEveryRouteNeedsCredentials sends a request without
// credentials to every route the server has: only the health checks
// (/healthz, /readyz and the Open Inference Protocol's /v2/health/*) and
// the dashboard's login page and static files answer; the dashboard page
// sends the browser to the login page. The runtime's profiles are on, so
// that their routes are among them.
func TestSecurityEveryRouteNeedsCredentials(t *testing.T) {
	a, url := startSecure(t, func(c *Config) { c.HTTP.Pprof = true })
	routes := a.Routes()
	require.Greater(t, len(routes), 20)
	require.Contains(t, routes, "GET /debug/pprof/{name}")
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		path = strings.TrimSuffix(wildcard.ReplaceAllString(path, "x"), "{$}")
		req, err := http.NewRequest(method, url+path, strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := noRedirects.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/healthz" || path == "/readyz" || strings.HasPrefix(path, "/v2/health/") {
			require.Equal(t, 200, resp.StatusCode, pattern)
			continue
		}
		switch pattern {
		case "GET /{$}":
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, pattern)
			require.Equal(t, "/ui/login", resp.Header.Get("Location"), pattern)
			continue
		case "GET /ui/login":
			require.Equal(t, 200, resp.StatusCode, pattern)
			continue
		case "POST /ui/login":
			require.Equal(t, 401, resp.StatusCode, "%s: %s", pattern, body)
			continue
		case "POST /ui/logout":
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, pattern)
			continue
		case "GET /ui/static/{file}":
			require.Equal(t, 404, resp.StatusCode, pattern)
			continue
		}
		if (path == "/" && method == http.MethodPost) || strings.HasPrefix(path, "/endpoints/") {
			require.Equal(t, 403, resp.StatusCode, "%s: %s", pattern, body)
			require.Contains(t, string(body), "MissingAuthenticationTokenException", pattern)
			continue
		}
		require.Equal(t, 401, resp.StatusCode, "%s: %s", pattern, body)
		require.Contains(t, string(body), `"unauthenticated"`, pattern)
	}
	// A made-up token is refused too.
	c := client.New(url, client.WithToken("psk_aaaaaaaaaaaa_nope"))
	_, err := c.ListStreams(context.Background())
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 401, ce.Status)
}

func TestSecurityScopedKeys(t *testing.T) {
	_, url := startSecure(t)
	ctx := context.Background()
	admin := client.New(url, client.WithToken(bootstrap))
	for _, name := range []string{"clicks", "orders"} {
		_, err := admin.CreateStream(ctx, api.StreamSpec{Name: name, Partitions: 1})
		require.NoError(t, err)
	}
	created, err := admin.CreateKey(ctx, "ingest", []string{"stream:clicks:put"})
	require.NoError(t, err)
	ingest := client.New(url, client.WithToken(created.Token))

	rec := []api.PutRecord{{PartitionKey: "k", Data: json.RawMessage(`{"a":1}`)}}
	_, err = ingest.PutRecords(ctx, "clicks", rec)
	require.NoError(t, err, "put to its own stream")
	for name, call := range map[string]func() error{
		"put to another stream": func() error { _, err := ingest.PutRecords(ctx, "orders", rec); return err },
		"read its own stream":   func() error { _, err := ingest.GetRecords(ctx, "clicks", client.ReadOptions{}); return err },
		"delete a stream":       func() error { return ingest.DeleteStream(ctx, "clicks") },
		"create keys":           func() error { _, err := ingest.CreateKey(ctx, "x", []string{"admin"}); return err },
		"list tables":           func() error { _, err := ingest.ListStreams(ctx); return err },
	} {
		err := call()
		var ce *client.Error
		require.ErrorAs(t, err, &ce, name)
		require.Equal(t, 403, ce.Status, name)
		require.Equal(t, "forbidden", ce.Code, name)
	}
	keys, err := admin.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	// A table's writer may not change the table's Time to Live.
	_, err = admin.CreateTable(ctx, api.TableSpec{Name: "sessions", PartitionKey: api.KeyAttr{Name: "id", Type: "S"}})
	require.NoError(t, err)
	w, err := admin.CreateKey(ctx, "writer", []string{"table:sessions:write"})
	require.NoError(t, err)
	_, err = client.New(url, client.WithToken(w.Token)).UpdateTableTTL(ctx, "sessions", "expires_at")
	var fe *client.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, 403, fe.Status, "a table writer updating its TTL")
	info, err := admin.UpdateTableTTL(ctx, "sessions", "expires_at")
	require.NoError(t, err)
	require.Equal(t, "expires_at", info.TTLAttribute)
	require.NoError(t, admin.RevokeKey(ctx, created.Key.ID))
	_, err = ingest.PutRecords(ctx, "clicks", rec)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 401, ce.Status, "a revoked key is refused")
}

func TestSecurityAWSSignatures(t *testing.T) {
	_, url := startSecure(t)
	ctx := context.Background()
	admin := client.New(url, client.WithToken(bootstrap))
	for _, name := range []string{"clicks", "orders"} {
		_, err := admin.CreateStream(ctx, api.StreamSpec{Name: name, Partitions: 1})
		require.NoError(t, err)
	}
	sdk := func(akid, secret string) *kds.Client {
		return kds.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""), BaseEndpoint: aws.String(url), RetryMaxAttempts: 1})
	}
	code := func(err error) string {
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		return ae.ErrorCode()
	}
	good := sdk("AKIDCLICKS", "clicks-secret")
	_, err := good.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("k"), Data: []byte("x")})
	require.NoError(t, err, "signed with configured credentials")
	_, err = good.PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")})
	require.Equal(t, "AccessDeniedException", code(err), "scoped to clicks")
	_, err = good.DeleteStream(ctx, &kds.DeleteStreamInput{StreamName: aws.String("clicks")})
	require.Equal(t, "AccessDeniedException", code(err))
	_, err = sdk("AKIDCLICKS", "wrong-secret").PutRecord(ctx, &kds.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("k"), Data: []byte("x")})
	require.Equal(t, "InvalidSignatureException", code(err))
	_, err = sdk("AKIDUNKNOWN", "x").ListStreams(ctx, &kds.ListStreamsInput{})
	require.Equal(t, "UnrecognizedClientException", code(err))
	resp, err := http.Post(url+"/", "application/x-amz-json-1.1", strings.NewReader(`{"StreamName":"clicks"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)
	require.Equal(t, "MissingAuthenticationTokenException", resp.Header.Get("X-Amzn-ErrorType"))
}

func TestSecurityRefusesOpenNonLoopback(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "0.0.0.0:0"
	_, err := New(context.Background(), cfg, nil)
	require.ErrorContains(t, err, "refusing to listen on 0.0.0.0:0")
	cfg.HTTP.Insecure = true
	a, err := New(context.Background(), cfg, nil)
	require.NoError(t, err)
	a.Close()
}

// writeCert writes a self-signed certificate for 127.0.0.1 and returns its
// pool.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func TestSecurityTLSAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool1 := writeCert(t, certFile, keyFile, "first")
	a, url := startSecure(t, func(c *Config) { c.HTTP.TLSCertFile, c.HTTP.TLSKeyFile = certFile, keyFile })
	require.True(t, strings.HasPrefix(url, "https://"))
	get := func(pool *x509.CertPool) (*http.Response, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer hc.CloseIdleConnections()
		return hc.Get(url + "/healthz")
	}
	resp, err := get(pool1)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	_, err = http.Get(strings.Replace(url, "https://", "http://", 1) + "/healthz")
	if err == nil {
		t.Log("plain HTTP to the TLS port got an answer (the TLS server answers 400)")
	}

	// A new certificate takes effect on reload (serve reloads on SIGHUP).
	pool2 := writeCert(t, certFile, keyFile, "second")
	require.NoError(t, a.server.ReloadTLS())
	_, err = get(pool1)
	require.Error(t, err, "the old certificate is gone")
	resp, err = get(pool2)
	require.NoError(t, err)
	resp.Body.Close()
	// A broken file keeps the current certificate.
	require.NoError(t, os.WriteFile(certFile, []byte("junk"), 0o600))
	require.Error(t, a.server.ReloadTLS())
	resp, err = get(pool2)
	require.NoError(t, err)
	resp.Body.Close()
}

// TestSecurityDashboardLogin logs in to the dashboard with API keys: a
// viewer key (scope dashboard) watches but cannot use the controls; a key
// with the jobs scope can, from the page only (the header that a page of
// another site cannot send); a bearer token works without a login; a
// revoked key's session ends.
func TestSecurityDashboardLogin(t *testing.T) {
	_, url := startSecure(t)
	ctx := context.Background()
	admin := client.New(url, client.WithToken(bootstrap))
	viewer, err := admin.CreateKey(ctx, "viewer", []string{"dashboard"})
	require.NoError(t, err)
	operator, err := admin.CreateKey(ctx, "operator", []string{"dashboard", "jobs"})
	require.NoError(t, err)
	ingest, err := admin.CreateKey(ctx, "ingest", []string{"stream:clicks:put"})
	require.NoError(t, err)

	login := func(key string) (*http.Response, *http.Cookie) {
		t.Helper()
		resp, err := noRedirects.PostForm(url+"/ui/login", map[string][]string{"key": {key}})
		require.NoError(t, err)
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == auth.SessionCookie {
				return resp, c
			}
		}
		return resp, nil
	}
	do := func(method, path string, c *http.Cookie, header map[string]string, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		require.NoError(t, err)
		if c != nil {
			req.AddCookie(c)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := noRedirects.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Wrong keys get the login page again, with no cookie.
	for _, key := range []string{"", "psk_aaaaaaaaaaaa_nope", ingest.Token} {
		resp, c := login(key)
		require.Contains(t, []int{401, 403}, resp.StatusCode, key)
		require.Nil(t, c, key)
	}
	// A login from another site's form is refused.
	req, _ := http.NewRequest(http.MethodPost, url+"/ui/login", strings.NewReader("key="+viewer.Token))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)

	resp, vc := login(viewer.Token)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.NotNil(t, vc)
	require.True(t, vc.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, vc.SameSite)
	require.Greater(t, vc.MaxAge, 0)
	require.Equal(t, 200, do("GET", "/", vc, nil, ""))
	require.Equal(t, 200, do("GET", "/ui/snapshot", vc, nil, ""))
	kill := map[string]string{"Content-Type": "application/json", "X-Pricestream-Dashboard": "1"}
	require.Equal(t, 403, do("PUT", "/v1/pricing/kill-switch", vc, kill, `{"on":false}`), "a viewer cannot use the controls")
	require.Equal(t, 403, do("GET", "/v1/streams", vc, nil, ""), "the session carries the key's scopes only")

	_, oc := login(operator.Token)
	require.NotNil(t, oc)
	require.Equal(t, 401, do("PUT", "/v1/pricing/kill-switch", oc, map[string]string{"Content-Type": "application/json"}, `{"on":false}`),
		"without the dashboard header a session cookie does not authenticate a change")
	require.Equal(t, 200, do("PUT", "/v1/pricing/kill-switch", oc, kill, `{"on":false}`))
	require.Equal(t, 200, do("PUT", "/v1/pricing/freezes/p1", oc, kill, ""))
	require.Equal(t, 200, do("DELETE", "/v1/pricing/freezes/p1", oc, kill, ""))

	// A bearer token needs no login; a made-up cookie is no session.
	require.Equal(t, 200, do("GET", "/ui/snapshot", nil, map[string]string{"Authorization": "Bearer " + viewer.Token}, ""))
	require.Equal(t, 401, do("GET", "/ui/events", nil, nil, ""))
	require.Equal(t, 401, do("GET", "/ui/snapshot", &http.Cookie{Name: auth.SessionCookie, Value: "djF8Ym9vdHN0cmFw.AAAA"}, nil, ""))
	require.Equal(t, http.StatusSeeOther, do("GET", "/", &http.Cookie{Name: auth.SessionCookie, Value: "forged"}, nil, ""))

	// Revoking the key ends its session, and its open event stream within
	// moments; logging out clears the cookie.
	req, _ = http.NewRequest(http.MethodGet, url+"/ui/events", nil)
	req.AddCookie(vc)
	events, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer events.Body.Close()
	require.Equal(t, 200, events.StatusCode)
	require.NoError(t, admin.RevokeKey(ctx, viewer.Key.ID))
	require.Equal(t, 401, do("GET", "/ui/snapshot", vc, nil, ""))
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, events.Body); ended <- err }()
	select {
	case err := <-ended:
		require.NoError(t, err, "the stream ends cleanly")
	case <-time.After(20 * time.Second):
		t.Fatal("the event stream of a revoked key still runs")
	}
	req, _ = http.NewRequest(http.MethodPost, url+"/ui/logout", nil)
	req.AddCookie(oc)
	resp, err = noRedirects.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/ui/login", resp.Header.Get("Location"))
	require.Equal(t, -1, resp.Cookies()[0].MaxAge)
}
