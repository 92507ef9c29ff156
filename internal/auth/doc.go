// Package auth authenticates requests and authorizes them by scope.
//
// # Principals
//
// A request is made by a [Principal]: the holder of an API key (a bearer
// token, stored hashed in the engine), the holder of AWS credentials (a
// request signed with AWS Signature Version 4, as the AWS SDKs sign), or, when
// authentication is off, the unrestricted principal. [Check] tells whether
// the principal of a context holds a scope.
//
// # Scopes
//
// A [Scope] is "admin" (everything), "catalog", "jobs", "models",
// "dashboard" (watch the dashboard), "invoke[:ENDPOINT]",
// "stream:NAME:put", "stream:NAME:read",
// "table:NAME:read" or "table:NAME:write"; NAME may be "*". A principal's
// scope grants a requested one when it is admin, equal, or matches with a
// wildcard name ("stream:*:put" grants "stream:clicks:put"); write grants
// read on a table, put does not grant read on a stream.
//
// # Browser sessions
//
// A browser logs in to the dashboard with an API key once and then carries
// a [SessionCookie]: [Authenticator.NewSession] signs it (HMAC-SHA256
// under an installation-wide engine secret, with an expiry and a binding
// to the key), [Authenticator.VerifySession] checks it and reads the key's
// current scopes, so revoking the key ends its sessions.
//
// # Concurrency
//
// [Keys] and [SigV4] are safe for concurrent use. Keys starts a goroutine
// that follows revocations in the engine; [Keys.Close] stops it. This
// package imports engine only.
package auth
