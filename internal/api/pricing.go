package api

import (
	"net/http"

	"github.com/pricestream/pricestream/internal/auth"
)

func (s *Server) routePricing() {
	s.mux.HandleFunc("GET /v1/pricing/controls", s.pricingControls)
	s.mux.HandleFunc("PUT /v1/pricing/kill-switch", s.setKillSwitch)
	s.mux.HandleFunc("PUT /v1/pricing/freezes/{product}", s.freeze)
	s.mux.HandleFunc("DELETE /v1/pricing/freezes/{product}", s.unfreeze)
}

// ControlRequest is the body of the kill switch and freeze routes.
type ControlRequest struct {
	// On turns the kill switch on or off (ignored by freezes).
	On     bool   `json:"on"`
	Reason string `json:"reason,omitempty"`
}

func principalName(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		return p.Name
	}
	return ""
}

func (s *Server) pricingControls(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.pricing.State())
}

func (s *Server) setKillSwitch(w http.ResponseWriter, r *http.Request) {
	var req ControlRequest
	if err := decodeStrict(r, &req); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if err := s.pricing.SetKillSwitch(r.Context(), req.On, req.Reason, principalName(r)); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.logger.Info("pricing kill switch set", "on", req.On, "reason", req.Reason, "by", principalName(r))
	writeJSON(w, http.StatusOK, s.pricing.State())
}

func (s *Server) freeze(w http.ResponseWriter, r *http.Request) {
	var req ControlRequest
	if r.ContentLength != 0 {
		if err := decodeStrict(r, &req); err != nil {
			WriteError(w, r, s.logger, err)
			return
		}
	}
	if err := s.pricing.Freeze(r.Context(), r.PathValue("product"), true, req.Reason, principalName(r)); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.logger.Info("product price frozen", "product_id", r.PathValue("product"), "reason", req.Reason, "by", principalName(r))
	writeJSON(w, http.StatusOK, s.pricing.State())
}

func (s *Server) unfreeze(w http.ResponseWriter, r *http.Request) {
	if err := s.pricing.Freeze(r.Context(), r.PathValue("product"), false, "", principalName(r)); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	s.logger.Info("product price unfrozen", "product_id", r.PathValue("product"), "by", principalName(r))
	writeJSON(w, http.StatusOK, s.pricing.State())
}
