package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SessionCookie is the name of the cookie a browser login sets: the
// dashboard's session.
const SessionCookie = "pricestream_session"

// DefaultSessionTTL is how long a browser session lasts.
const DefaultSessionTTL = 12 * time.Hour

// Sessions signs and verifies browser sessions: a cookie that stands for
// the API key (or the bootstrap token) a user logged in with. The cookie
// holds the key's id, an expiry and a binding to the key's hash, signed
// with HMAC-SHA256 under an installation-wide secret, so any process on
// the engine verifies it, and it holds no secret itself. A session ends at
// its expiry, when its key is revoked, or when the bootstrap token it was
// made from changes. Sessions are safe for concurrent use.
type Sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewSessions returns sessions signed with key (at least 32 bytes), each
// lasting ttl (DefaultSessionTTL when 0).
func NewSessions(key []byte, ttl time.Duration) (*Sessions, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("auth: session key of %d bytes; want at least 32", len(key))
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &Sessions{key: append([]byte(nil), key...), ttl: ttl, now: time.Now}, nil
}

// TTL returns how long a new session lasts.
func (s *Sessions) TTL() time.Duration { return s.ttl }

// session subjects: the bootstrap token, or an API key by id.
const bootstrapSubject = "bootstrap"

func binding(hash []byte) string {
	sum := sha256.Sum256(hash)
	return hex.EncodeToString(sum[:8])
}

func (s *Sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// open checks a session value's signature and expiry and returns its
// subject and binding.
func (s *Sessions) open(value string) (subject, bind string, err error) {
	p64, mac64, ok := strings.Cut(value, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: malformed session", ErrUnauthenticated)
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(mac64)
	if err1 != nil || err2 != nil {
		return "", "", fmt.Errorf("%w: malformed session", ErrUnauthenticated)
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return "", "", fmt.Errorf("%w: session signature does not verify", ErrUnauthenticated)
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 4 || parts[0] != "v1" {
		return "", "", fmt.Errorf("%w: malformed session", ErrUnauthenticated)
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", "", fmt.Errorf("%w: malformed session", ErrUnauthenticated)
	}
	if s.now().Unix() >= exp {
		return "", "", fmt.Errorf("%w: session expired; log in again", ErrUnauthenticated)
	}
	return parts[1], parts[3], nil
}

// VerifyToken returns the principal of a bearer token: the bootstrap
// token or an API key. The error wraps ErrUnauthenticated.
func (a *Authenticator) VerifyToken(token string) (*Principal, error) {
	if a.Bootstrap != nil {
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], a.Bootstrap) == 1 {
			return &Principal{Name: "bootstrap", Scopes: []Scope{Admin}}, nil
		}
	}
	if a.Keys == nil {
		return nil, fmt.Errorf("%w: API keys are not enabled", ErrUnauthenticated)
	}
	return a.Keys.Verify(token)
}

// NewSession verifies a token (the bootstrap token or an API key) and
// returns a signed session value standing for it, with the principal and
// the session's expiry. It fails with ErrUnauthenticated when the token
// does not verify, and when the authenticator has no Sessions.
func (a *Authenticator) NewSession(token string) (string, *Principal, time.Time, error) {
	if a.Sessions == nil {
		return "", nil, time.Time{}, fmt.Errorf("%w: sessions are not enabled", ErrUnauthenticated)
	}
	p, err := a.VerifyToken(token)
	if err != nil {
		return "", nil, time.Time{}, err
	}
	var subject, bind string
	if p.Name == bootstrapSubject && a.Bootstrap != nil {
		subject, bind = bootstrapSubject, binding(a.Bootstrap)
	} else {
		rest, _ := strings.CutPrefix(token, tokenPrefix)
		id, _, _ := strings.Cut(rest, "_")
		info := a.Keys.info(id)
		if info == nil {
			return "", nil, time.Time{}, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
		}
		subject, bind = "key:"+id, binding(info.Hash)
	}
	s := a.Sessions
	exp := s.now().Add(s.ttl)
	return s.sign("v1|" + subject + "|" + strconv.FormatInt(exp.Unix(), 10) + "|" + bind), p, exp, nil
}

// VerifySession returns the principal of a session value made by
// [Authenticator.NewSession]. The key's scopes are read now, so a
// session sees scope changes and revocation at once. The error wraps
// ErrUnauthenticated.
func (a *Authenticator) VerifySession(value string) (*Principal, error) {
	if a.Sessions == nil {
		return nil, fmt.Errorf("%w: sessions are not enabled", ErrUnauthenticated)
	}
	subject, bind, err := a.Sessions.open(value)
	if err != nil {
		return nil, err
	}
	if subject == bootstrapSubject {
		if a.Bootstrap == nil || bind != binding(a.Bootstrap) {
			return nil, fmt.Errorf("%w: the bootstrap token of this session changed", ErrUnauthenticated)
		}
		return &Principal{Name: "bootstrap", Scopes: []Scope{Admin}}, nil
	}
	id, ok := strings.CutPrefix(subject, "key:")
	if !ok || a.Keys == nil {
		return nil, fmt.Errorf("%w: malformed session", ErrUnauthenticated)
	}
	info := a.Keys.info(id)
	if info == nil || bind != binding(info.Hash) {
		return nil, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	}
	if info.Revoked {
		return nil, fmt.Errorf("%w: API key %s is revoked", ErrUnauthenticated, id)
	}
	return info.principal(), nil
}

// info returns the key with the given id, or nil.
func (k *Keys) info(id string) *KeyInfo {
	if !idRE.MatchString(id) {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.mu.keys[id]
}

// principal returns the principal of a key's holder.
func (i *KeyInfo) principal() *Principal {
	p := &Principal{Name: "key:" + i.ID + " (" + i.Name + ")"}
	for _, s := range i.Scopes {
		if sc, err := ParseScope(s); err == nil {
			p.Scopes = append(p.Scopes, sc)
		}
	}
	return p
}
