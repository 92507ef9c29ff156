package api

import (
	"net/http"

	"github.com/pricestream/pricestream/internal/auth"
)

func (s *Server) routeAuth() {
	s.mux.HandleFunc("POST /v1/auth/keys", s.createKey)
	s.mux.HandleFunc("GET /v1/auth/keys", s.listKeys)
	s.mux.HandleFunc("DELETE /v1/auth/keys/{id}", s.revokeKey)
	s.mux.HandleFunc("GET /v1/auth/whoami", s.whoami)
}

// KeyRequest is the body of POST /v1/auth/keys.
type KeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// KeyCreated is the answer to POST /v1/auth/keys: the token is shown once.
type KeyCreated struct {
	Token string        `json:"token"`
	Key   *auth.KeyInfo `json:"key"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var req KeyRequest
	if err := decodeStrict(r, &req); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	scopes := make([]auth.Scope, 0, len(req.Scopes))
	for _, sc := range req.Scopes {
		p, err := auth.ParseScope(sc)
		if err != nil {
			WriteError(w, r, s.logger, err)
			return
		}
		scopes = append(scopes, p)
	}
	token, info, err := s.auth.Keys.Create(r.Context(), req.Name, scopes)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.logger.Info("api key created", "key", info.ID, "name", info.Name, "scopes", info.Scopes, "by", auth.FromContext(r.Context()).Name)
	writeJSON(w, http.StatusCreated, KeyCreated{Token: token, Key: info})
}

func (s *Server) listKeys(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"keys": s.auth.Keys.List()})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := s.auth.Keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.logger.Info("api key revoked", "key", r.PathValue("id"), "by", auth.FromContext(r.Context()).Name)
	w.WriteHeader(http.StatusNoContent)
}

// whoami answers with the caller's principal and scopes; any
// authenticated caller may ask.
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p := auth.FromContext(r.Context())
	scopes := []string{}
	for _, sc := range p.Scopes {
		scopes = append(scopes, sc.String())
	}
	writeJSON(w, http.StatusOK, map[string]any{"principal": p.Name, "scopes": scopes, "unrestricted": p.Unrestricted})
}
