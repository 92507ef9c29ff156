package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, enginetest.LeakOptions()...) }

func TestAuthScopes(t *testing.T) {
	for _, tc := range []struct {
		have, want string
		ok         bool
	}{
		{"admin", "stream:clicks:put", true},
		{"admin", "models", true},
		{"stream:clicks:put", "stream:clicks:put", true},
		{"stream:clicks:put", "stream:clicks:read", false},
		{"stream:clicks:put", "stream:orders:put", false},
		{"stream:*:read", "stream:orders:read", true},
		{"table:products:write", "table:products:read", true},
		{"table:products:read", "table:products:write", false},
		{"invoke", "invoke:pricing", true},
		{"invoke:pricing", "invoke:pricing", true},
		{"invoke:pricing", "invoke:other", false},
		{"catalog", "jobs", false},
		{"jobs", "jobs", true},
	} {
		have, err := ParseScope(tc.have)
		require.NoError(t, err, tc.have)
		want, err := ParseScope(tc.want)
		require.NoError(t, err, tc.want)
		require.Equal(t, tc.ok, have.Grants(want), "%s grants %s", tc.have, tc.want)
		require.Equal(t, tc.have, have.String())
	}
	for _, bad := range []string{"", "root", "stream:clicks", "stream::put", "stream:clicks:delete", "table:t:put", "admin:x", "invoke:"} {
		_, err := ParseScope(bad)
		require.ErrorIs(t, err, ErrInvalidScope, bad)
	}
	ctx := WithPrincipal(context.Background(), &Principal{Name: "k", Scopes: []Scope{StreamScope("clicks", "put")}})
	require.NoError(t, Check(ctx, StreamScope("clicks", "put")))
	require.ErrorIs(t, Check(ctx, StreamScope("orders", "put")), ErrForbidden)
	require.ErrorIs(t, Check(context.Background(), Admin), ErrUnauthenticated)
	require.NoError(t, Check(WithPrincipal(context.Background(), Unrestricted), Admin))
}

func TestAuthKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	k, err := OpenKeys(ctx, e, nil)
	require.NoError(t, err)
	token, info, err := k.Create(ctx, "ingest", []Scope{StreamScope("clicks", "put")})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, "psk_"+info.ID+"_"))
	require.Nil(t, info.Hash, "the hash is not handed out")

	p, err := k.Verify(token)
	require.NoError(t, err)
	require.True(t, p.Allows(StreamScope("clicks", "put")))
	require.False(t, p.Allows(StreamScope("clicks", "read")))
	for _, bad := range []string{"", "psk_", "psk_" + info.ID + "_wrong", token + "x", "Bearer " + token, "psk_nosuchkey0001_abc"} {
		_, err := k.Verify(bad)
		require.ErrorIs(t, err, ErrUnauthenticated, bad)
	}
	_, _, err = k.Create(ctx, "", []Scope{Admin})
	require.Error(t, err)
	_, _, err = k.Create(ctx, "x", nil)
	require.Error(t, err)

	// A second process (another Keys on the same engine) sees the key and
	// its revocation.
	k2, err := OpenKeys(ctx, e, nil)
	require.NoError(t, err)
	defer k2.Close()
	_, err = k2.Verify(token)
	require.NoError(t, err)
	require.NoError(t, k.Revoke(ctx, info.ID))
	_, err = k.Verify(token)
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.Eventually(t, func() bool { _, err := k2.Verify(token); return err != nil }, 10*time.Second, time.Millisecond)
	require.ErrorIs(t, k.Revoke(ctx, "nosuchkey000"), ErrKeyNotFound)
	require.Len(t, k.List(), 1)
	require.True(t, k.List()[0].Revoked)
	k.Close()

	// Keys survive a restart; only hashes are stored.
	require.NoError(t, e.Close())
	e2 := enginetest.Start(t, enginetest.WithDir(dir))
	k3, err := OpenKeys(ctx, e2, nil)
	require.NoError(t, err)
	defer k3.Close()
	require.Len(t, k3.List(), 1)
}

// signed returns a request signed by the AWS SDK's own signer.
func signed(t testing.TB, body, akid, secret string, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
	sum := sha256.Sum256([]byte(body))
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "kinesis", "eu-west-1", at))
	return r
}

func TestAuthSigV4AgainstTheSDKSigner(t *testing.T) {
	v, err := NewSigV4([]AWSCredential{{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG", Scopes: []string{"stream:clicks:put"}}})
	require.NoError(t, err)
	now := time.Now()
	v.now = func() time.Time { return now }
	body := `{"StreamName":"clicks","Records":[]}`

	p, err := v.Verify(signed(t, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", now), []byte(body))
	require.NoError(t, err)
	require.Equal(t, "aws:AKIDEXAMPLE", p.Name)
	require.True(t, p.Allows(StreamScope("clicks", "put")))

	var se *SigV4Error
	_, err = v.Verify(signed(t, body, "AKIDEXAMPLE", "wrong", now), []byte(body))
	require.ErrorAs(t, err, &se)
	require.Equal(t, "InvalidSignatureException", se.Type)
	_, err = v.Verify(signed(t, body, "AKIDOTHER", "wJalrXUtnFEMI/K7MDENG", now), []byte(body))
	require.ErrorAs(t, err, &se)
	require.Equal(t, "UnrecognizedClientException", se.Type)
	// A body changed after signing.
	_, err = v.Verify(signed(t, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", now), []byte(body+" "))
	require.ErrorAs(t, err, &se)
	require.Equal(t, "InvalidSignatureException", se.Type)
	// A signed header changed after signing.
	r := signed(t, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", now)
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	_, err = v.Verify(r, []byte(body))
	require.ErrorAs(t, err, &se)
	// Too old.
	_, err = v.Verify(signed(t, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", now.Add(-20*time.Minute)), []byte(body))
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Message, "Signature expired")
	// Unsigned.
	r = signed(t, body, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", now)
	r.Header.Del("Authorization")
	_, err = v.Verify(r, []byte(body))
	require.ErrorAs(t, err, &se)
	require.Equal(t, "MissingAuthenticationTokenException", se.Type)
	require.True(t, errors.Is(err, ErrUnauthenticated))

	_, err = NewSigV4([]AWSCredential{{AccessKeyID: "A", SecretAccessKey: "s", Scopes: []string{"nope"}}})
	require.ErrorContains(t, err, "auth.aws_credentials[0].scopes[0]")
}

// FuzzAuthSigV4 feeds arbitrary Authorization and date headers, paths and
// bodies to the verifier: it must refuse them with an error, never panic,
// and never accept a request not signed with the secret.
func FuzzAuthSigV4(f *testing.F) {
	now := time.Now()
	good := signed(f, "{}", "AKIDEXAMPLE", "secret", now)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), "/", "{}")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00", "20261125T000000Z", "/a%2Fb", "x")
	f.Add("AWS4-HMAC-SHA256 Credential=/////", "", "/", "")
	f.Add("Bearer x", "x", "//", "")
	v, err := NewSigV4([]AWSCredential{{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}})
	require.NoError(f, err)
	v.now = func() time.Time { return now }
	f.Fuzz(func(t *testing.T, authorization, date, path, body string) {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		r.URL.Path = path
		r.Header.Set("Authorization", authorization)
		r.Header.Set("X-Amz-Date", date)
		p, err := v.Verify(r, []byte(body))
		if err == nil && (authorization != good.Header.Get("Authorization") || date != good.Header.Get("X-Amz-Date") || r.URL.EscapedPath() != "/" || body != "{}") {
			t.Fatalf("accepted a request not signed with the secret: %q %q %q", authorization, path, body)
		}
		_ = p
	})
}
