package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on; test with errors.Is.
var (
	// ErrUnauthenticated means the request carried no valid credentials.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrForbidden means the principal lacks the scope.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrInvalidScope means a scope could not be parsed.
	ErrInvalidScope = errors.New("auth: invalid scope")
)

// Scope is one permission, in the syntax the package doc describes.
type Scope struct {
	Kind   string // admin, catalog, jobs, models, dashboard, invoke, stream, table
	Name   string // stream, table or endpoint name, or "*"; empty for plain kinds
	Action string // put, read (streams); read, write (tables)
}

// Admin grants everything.
var Admin = Scope{Kind: "admin"}

// String returns the scope in its text form.
func (s Scope) String() string {
	switch {
	case s.Action != "":
		return s.Kind + ":" + s.Name + ":" + s.Action
	case s.Name != "":
		return s.Kind + ":" + s.Name
	default:
		return s.Kind
	}
}

// StreamScope is the scope to put to or read from a stream.
func StreamScope(name, action string) Scope { return Scope{Kind: "stream", Name: name, Action: action} }

// TableScope is the scope to read or write a table.
func TableScope(name, action string) Scope { return Scope{Kind: "table", Name: name, Action: action} }

// Plain is a scope without a name (catalog, jobs, models, dashboard,
// invoke, admin).
func Plain(kind string) Scope { return Scope{Kind: kind} }

// ParseScope parses a scope's text form.
func ParseScope(s string) (Scope, error) {
	parts := strings.Split(s, ":")
	bad := func(why string) (Scope, error) {
		return Scope{}, fmt.Errorf("%w %q: %s", ErrInvalidScope, s, why)
	}
	switch parts[0] {
	case "admin", "catalog", "jobs", "models", "dashboard":
		if len(parts) != 1 {
			return bad(parts[0] + " takes no name")
		}
		return Scope{Kind: parts[0]}, nil
	case "invoke":
		switch len(parts) {
		case 1:
			return Scope{Kind: "invoke"}, nil
		case 2:
			if parts[1] == "" {
				return bad("empty endpoint name")
			}
			return Scope{Kind: "invoke", Name: parts[1]}, nil
		}
		return bad("want invoke or invoke:ENDPOINT")
	case "stream", "table":
		if len(parts) != 3 || parts[1] == "" {
			return bad("want " + parts[0] + ":NAME:ACTION")
		}
		valid := map[string][]string{"stream": {"put", "read"}, "table": {"read", "write"}}[parts[0]]
		if parts[2] != valid[0] && parts[2] != valid[1] {
			return bad("action must be " + valid[0] + " or " + valid[1])
		}
		return Scope{Kind: parts[0], Name: parts[1], Action: parts[2]}, nil
	}
	return bad("unknown kind; want admin, catalog, jobs, models, dashboard, invoke, stream or table")
}

// Grants reports whether holding s allows want.
func (s Scope) Grants(want Scope) bool {
	if s.Kind == "admin" {
		return true
	}
	if s.Kind != want.Kind {
		return false
	}
	if s.Kind == "invoke" && s.Name == "" {
		return true // invoke without a name: every endpoint
	}
	if s.Name != "*" && s.Name != want.Name {
		return false
	}
	if s.Action == want.Action {
		return true
	}
	return s.Kind == "table" && s.Action == "write" && want.Action == "read"
}

// Principal is who makes a request.
type Principal struct {
	// Name identifies the principal in logs: "key:<id> (<name>)",
	// "aws:<access key id>" or "unrestricted".
	Name   string
	Scopes []Scope
	// Unrestricted is true when authentication is off.
	Unrestricted bool
}

// Unrestricted is the principal of every request when authentication is off.
var Unrestricted = &Principal{Name: "unrestricted", Unrestricted: true}

// Allows reports whether p holds a scope granting want.
func (p *Principal) Allows(want Scope) bool {
	if p == nil {
		return false
	}
	if p.Unrestricted {
		return true
	}
	for _, s := range p.Scopes {
		if s.Grants(want) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Check returns nil when the principal of ctx holds a scope granting want;
// otherwise an error wrapping ErrForbidden (or ErrUnauthenticated when ctx
// has no principal) that names the scope.
func Check(ctx context.Context, want Scope) error {
	p := FromContext(ctx)
	if p == nil {
		return fmt.Errorf("%w: no credentials", ErrUnauthenticated)
	}
	if !p.Allows(want) {
		return fmt.Errorf("%w: %s lacks scope %s", ErrForbidden, p.Name, want)
	}
	return nil
}
