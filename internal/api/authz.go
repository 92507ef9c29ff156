package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/pricestream/pricestream/internal/auth"
)

// routeMux is the server's ServeMux. Every route registered through it is
// wrapped with the authorization its pattern calls for (see routeScope), so
// the parts add routes without repeating authorization code.
type routeMux struct {
	*http.ServeMux
	s        *Server
	patterns []string
}

// Handle registers h for pattern, behind authorization.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, m.s.authorize(pattern, h))
}

// Routes returns the patterns of every route, in registration order.
func (s *Server) Routes() []string { return append([]string(nil), s.mux.patterns...) }

// HandleFunc registers f for pattern, behind authorization.
func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// scopeRule says which scope a request to a route needs: public routes
// need none (nil); AWS targets are authenticated here and authorized per
// operation by their handlers.
type scopeRule func(r *http.Request) *auth.Scope

func scope(s auth.Scope) *auth.Scope { return &s }

// routeScope returns the authorization rule of a route pattern.
func (s *Server) routeScope(pattern string) (rule scopeRule, public, awsTarget bool) {
	method, path, _ := strings.Cut(pattern, " ")
	switch path {
	case "/healthz", "/readyz":
		return nil, true, false
	case "/metrics":
		if s.auth != nil && s.auth.PublicMetrics {
			return nil, true, false
		}
		return func(*http.Request) *auth.Scope { return scope(auth.Admin) }, false, false
	case "/{$}":
		if method == http.MethodPost {
			return nil, false, true
		}
		return func(*http.Request) *auth.Scope { return scope(auth.Plain("dashboard")) }, false, false
	case "/ui/login", "/ui/logout":
		return nil, true, false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	admin := func(*http.Request) *auth.Scope { return scope(auth.Admin) }
	plain := func(kind string) scopeRule {
		return func(*http.Request) *auth.Scope { return scope(auth.Plain(kind)) }
	}
	switch {
	case segs[0] == "ui" && len(segs) >= 2 && segs[1] == "static":
		return nil, true, false // the dashboard's code and styles, no data
	case segs[0] == "ui":
		return func(*http.Request) *auth.Scope { return scope(auth.Plain("dashboard")) }, false, false
	case len(segs) >= 2 && segs[0] == "v1" && segs[1] == "streams":
		switch {
		case len(segs) == 2 && method == http.MethodGet:
			return func(*http.Request) *auth.Scope { return scope(auth.StreamScope("*", "read")) }, false, false
		case len(segs) == 2, len(segs) == 3 && method == http.MethodDelete:
			return admin, false, false
		case len(segs) == 4 && segs[3] == "records" && method == http.MethodPost:
			return func(r *http.Request) *auth.Scope { return scope(auth.StreamScope(r.PathValue("stream"), "put")) }, false, false
		default:
			return func(r *http.Request) *auth.Scope { return scope(auth.StreamScope(r.PathValue("stream"), "read")) }, false, false
		}
	case len(segs) >= 2 && segs[0] == "v1" && segs[1] == "tables":
		switch {
		case len(segs) == 2 && method == http.MethodGet:
			return func(*http.Request) *auth.Scope { return scope(auth.TableScope("*", "read")) }, false, false
		case len(segs) == 2, len(segs) == 3 && method == http.MethodDelete, len(segs) == 4 && segs[3] == "ttl":
			return admin, false, false
		case method == http.MethodGet || (len(segs) == 4 && (segs[3] == "query" || segs[3] == "scan")):
			return func(r *http.Request) *auth.Scope { return scope(auth.TableScope(r.PathValue("table"), "read")) }, false, false
		default:
			return func(r *http.Request) *auth.Scope { return scope(auth.TableScope(r.PathValue("table"), "write")) }, false, false
		}
	case path == "/v1/auth/whoami":
		return func(*http.Request) *auth.Scope { return nil }, false, false
	case len(segs) >= 2 && segs[0] == "v1" && segs[1] == "catalog":
		return plain("catalog"), false, false
	case len(segs) >= 2 && segs[0] == "v1" && (segs[1] == "jobs" || segs[1] == "triggers" || segs[1] == "pricing"):
		return plain("jobs"), false, false
	case len(segs) >= 2 && segs[0] == "v1" && (segs[1] == "models" || segs[1] == "endpoints"):
		return plain("models"), false, false
	case len(segs) >= 3 && segs[0] == "endpoints" && strings.HasPrefix(segs[1], "{"):
		name := strings.Trim(segs[1], "{}")
		return func(r *http.Request) *auth.Scope { return scope(auth.Scope{Kind: "invoke", Name: r.PathValue(name)}) }, false, false
	case len(segs) >= 1 && segs[0] == "v2":
		if len(segs) >= 2 && segs[1] == "health" {
			return nil, true, false
		}
		return func(r *http.Request) *auth.Scope {
			if n := r.PathValue("name"); n != "" {
				return scope(auth.Scope{Kind: "invoke", Name: n})
			}
			return scope(auth.Plain("invoke"))
		}, false, false
	}
	return admin, false, false
}

// authorize wraps h with the authorization of pattern.
func (s *Server) authorize(pattern string, h http.Handler) http.Handler {
	rule, public, awsTarget := s.routeScope(pattern)
	if public || awsTarget {
		return h
	}
	page := isPage(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.auth == nil {
			h.ServeHTTP(w, r)
			return
		}
		if sc := rule(r); sc != nil {
			if err := auth.Check(r.Context(), *sc); err != nil {
				if page && errors.Is(err, auth.ErrUnauthenticated) {
					http.Redirect(w, r, LoginPath, http.StatusSeeOther)
					return
				}
				s.writeAuthError(w, r, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// isAWSRequest reports whether a request speaks an AWS protocol, whose
// errors have the AWS form.
func isAWSRequest(r *http.Request) bool {
	return r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-") ||
		(r.Method == http.MethodPost && r.URL.Path == "/") || strings.HasPrefix(r.URL.Path, "/endpoints/")
}

// authenticate finds the principal of a request: a bearer API key (or the
// bootstrap token), an AWS SigV4 signature, the dashboard's session
// cookie, or, for public routes and pages, none. It returns the request
// carrying the principal, or writes the error and returns nil.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *http.Request {
	if s.auth == nil {
		// Without authentication the client's address names it for the
		// ingest rate limit.
		return r.WithContext(auth.WithPrincipal(withClientAddr(r.Context(), r.RemoteAddr), auth.Unrestricted))
	}
	h := r.Header.Get("Authorization")
	var (
		p   *auth.Principal
		err error
	)
	switch {
	case strings.HasPrefix(h, "Bearer "):
		p, err = s.auth.VerifyToken(strings.TrimPrefix(h, "Bearer "))
	case strings.HasPrefix(h, "AWS4-"):
		if s.auth.SigV4 == nil {
			err = &auth.SigV4Error{Type: "UnrecognizedClientException", Message: "no AWS credentials are configured"}
			break
		}
		body, rerr := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
		if rerr != nil {
			err = fmt.Errorf("%w: read body: %v", ErrMalformed, rerr)
			break
		}
		if int64(len(body)) > s.cfg.MaxBodyBytes {
			err = fmt.Errorf("%w: more than the limit of %d bytes", ErrBodyTooLarge, s.cfg.MaxBodyBytes)
			break
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		p, err = s.auth.SigV4.Verify(r, body)
	default:
		if c, cerr := r.Cookie(auth.SessionCookie); cerr == nil && s.auth.Sessions != nil && sessionAllowed(r) {
			if p, err = s.auth.VerifySession(c.Value); err == nil {
				break
			}
		}
		pattern := patternOf(s, r)
		if _, public, _ := s.routeScope(pattern); public || isPage(pattern) {
			return r // a page sends the anonymous to the login page
		}
		if err != nil {
			break // the session's own error says why
		}
		if isAWSRequest(r) {
			err = &auth.SigV4Error{Type: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
		} else {
			err = fmt.Errorf("%w: send an API key as Authorization: Bearer <key>", auth.ErrUnauthenticated)
		}
	}
	if err != nil {
		s.writeAuthError(w, r, err)
		return nil
	}
	return r.WithContext(auth.WithPrincipal(r.Context(), p))
}

// LoginPath is the dashboard's login page, where pages send a browser
// without a session.
const LoginPath = "/ui/login"

// isPage reports whether a route is a page a browser opens: without
// credentials it redirects to the login page instead of answering 401.
func isPage(pattern string) bool { return pattern == "GET /{$}" }

// sessionAllowed reports whether a session cookie may authenticate r. A
// request that changes something must also carry the header
// X-Pricestream-Dashboard, which a page of another site cannot send
// without a CORS preflight this server never grants: with SameSite=Strict,
// a second defense against cross-site request forgery.
func sessionAllowed(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	}
	return r.Header.Get("X-Pricestream-Dashboard") != ""
}

func patternOf(s *Server, r *http.Request) string {
	_, pattern := s.mux.ServeMux.Handler(r)
	return pattern
}

// writeAuthError answers an authentication or authorization failure in the
// form of the request's protocol.
func (s *Server) writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var se *auth.SigV4Error
	if isAWSRequest(r) {
		typ, status := "AccessDeniedException", http.StatusBadRequest
		switch {
		case errors.As(err, &se):
			typ, status = se.Type, http.StatusForbidden
			if se.Type == "InvalidSignatureException" || se.Type == "IncompleteSignatureException" || se.Type == "UnrecognizedClientException" {
				status = http.StatusBadRequest
			}
		case errors.Is(err, auth.ErrUnauthenticated):
			typ, status = "UnrecognizedClientException", http.StatusBadRequest
		case errors.Is(err, ErrBodyTooLarge), errors.Is(err, ErrMalformed):
			typ = "ValidationException"
		}
		msg := strings.TrimPrefix(err.Error(), "auth: ")
		if se != nil {
			msg = se.Message
		}
		WriteAWSError(w, typ, status, msg)
		return
	}
	if errors.Is(err, auth.ErrUnauthenticated) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pricestream"`)
	}
	WriteError(w, r, s.logger, err)
}

// WriteAWSError writes an AWS JSON protocol error ({"__type", "message"}).
func WriteAWSError(w http.ResponseWriter, typ string, status int, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	b, _ := jsonMarshal(map[string]string{"__type": typ, "message": msg})
	_, _ = w.Write(b)
}

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
