package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// AWSCredential is a pair of AWS access key id and secret that the
// AWS-compatible APIs accept, with the scopes it grants.
type AWSCredential struct {
	AccessKeyID     string   `yaml:"access_key_id" json:"access_key_id"`
	SecretAccessKey string   `yaml:"secret_access_key" json:"secret_access_key"`
	Scopes          []string `yaml:"scopes" json:"scopes"`
}

// SigV4 verifies requests signed with AWS Signature Version 4, as the AWS
// SDKs sign them (an Authorization header; the payload's SHA-256 from
// X-Amz-Content-Sha256 or computed from the body).
type SigV4 struct {
	creds   map[string]sigCred
	now     func() time.Time
	maxSkew time.Duration
}

type sigCred struct {
	secret string
	scopes []Scope
}

// SigV4Error is a signature problem; Type is the AWS error type to answer
// with (MissingAuthenticationTokenException, UnrecognizedClientException,
// InvalidSignatureException).
type SigV4Error struct {
	Type    string
	Message string
}

func (e *SigV4Error) Error() string { return "auth: " + e.Type + ": " + e.Message }

// Unwrap makes every SigV4Error an ErrUnauthenticated.
func (e *SigV4Error) Unwrap() error { return ErrUnauthenticated }

// NewSigV4 returns a verifier of the given credentials; a scope that does
// not parse is an error.
func NewSigV4(creds []AWSCredential) (*SigV4, error) {
	v := &SigV4{creds: map[string]sigCred{}, now: time.Now, maxSkew: 15 * time.Minute}
	for i, c := range creds {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return nil, fmt.Errorf("auth.aws_credentials[%d]: access_key_id and secret_access_key are required", i)
		}
		sc := sigCred{secret: c.SecretAccessKey}
		for j, s := range c.Scopes {
			p, err := ParseScope(s)
			if err != nil {
				return nil, fmt.Errorf("auth.aws_credentials[%d].scopes[%d]: %w", i, j, err)
			}
			sc.scopes = append(sc.scopes, p)
		}
		v.creds[c.AccessKeyID] = sc
	}
	return v, nil
}

// authz holds the parts of an AWS4-HMAC-SHA256 Authorization header.
type authz struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(h string) (*authz, error) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return nil, &SigV4Error{"IncompleteSignatureException", "Authorization header is not AWS4-HMAC-SHA256"}
	}
	a := &authz{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return nil, &SigV4Error{"IncompleteSignatureException", "Credential must be KEY/DATE/REGION/SERVICE/aws4_request"}
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return nil, &SigV4Error{"IncompleteSignatureException", "Authorization header lacks Credential, SignedHeaders or Signature"}
	}
	return a, nil
}

// Verify checks the signature of r, whose body is body, and returns the
// principal of its credentials.
func (v *SigV4) Verify(r *http.Request, body []byte) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &SigV4Error{"MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return nil, err
	}
	cred, ok := v.creds[a.accessKey]
	if !ok {
		return nil, &SigV4Error{"UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.date) {
		return nil, &SigV4Error{"IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope's date"}
	}
	if d := v.now().Sub(t); d > v.maxSkew || d < -v.maxSkew {
		return nil, &SigV4Error{"InvalidSignatureException", fmt.Sprintf("Signature expired: %s is not within %s of the server's time %s", amzDate, v.maxSkew, v.now().UTC().Format("20060102T150405Z"))}
	}
	signed := map[string]bool{}
	for _, sh := range a.signedHeaders {
		signed[sh] = true
	}
	if !signed["host"] {
		return nil, &SigV4Error{"InvalidSignatureException", "the host header must be signed"}
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	switch declared := r.Header.Get("X-Amz-Content-Sha256"); declared {
	case "", payload:
	case "UNSIGNED-PAYLOAD":
		payload = declared
	default:
		return nil, &SigV4Error{"InvalidSignatureException", "X-Amz-Content-Sha256 does not match the body"}
	}
	canonical := canonicalRequest(r, a.signedHeaders, payload)
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	csum := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(csum[:])
	key := hmacSHA256([]byte("AWS4"+cred.secret), a.date)
	key = hmacSHA256(key, a.region)
	key = hmacSHA256(key, a.service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.signature)) != 1 {
		return nil, &SigV4Error{"InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return &Principal{Name: "aws:" + a.accessKey, Scopes: cred.scopes}, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequest builds SigV4's canonical request for the signed headers.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(escapePath(path))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	sorted := append([]string(nil), signedHeaders...)
	sort.Strings(sorted)
	for _, h := range sorted {
		b.WriteString(h)
		b.WriteByte(':')
		switch h {
		case "host":
			b.WriteString(r.Host)
		case "content-length":
			if v := r.Header.Get("Content-Length"); v != "" {
				b.WriteString(v)
			} else {
				fmt.Fprint(&b, r.ContentLength)
			}
		default:
			vals := r.Header.Values(h)
			for i, v := range vals {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(trimAll(v))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(sorted, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// trimAll trims a header value and collapses runs of spaces, as SigV4 does.
func trimAll(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b bytes.Buffer
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	return strings.Join(parts, "&")
}

// escapePath encodes an already escaped path once more, as SigV4 does for
// every service but S3.
func escapePath(p string) string { return uriEncode(p, false) }

func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
