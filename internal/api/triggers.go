package api

import (
	"fmt"
	"net/http"

	"github.com/pricestream/pricestream/internal/trigger"
)

// Triggers: the native API of trigger definitions (Lambda event source
// mappings). Bodies are trigger specs in JSON (or YAML with Content-Type
// application/yaml); answers are definitions or statuses.
func (s *Server) routeTriggers() {
	s.mux.HandleFunc("POST /v1/triggers", s.createTrigger)
	s.mux.HandleFunc("GET /v1/triggers", s.listTriggers)
	s.mux.HandleFunc("GET /v1/triggers/{trigger}", s.describeTrigger)
	s.mux.HandleFunc("PUT /v1/triggers/{trigger}", s.applyTrigger)
	s.mux.HandleFunc("DELETE /v1/triggers/{trigger}", s.deleteTrigger)
	s.mux.HandleFunc("POST /v1/triggers/{trigger}/enable", s.enableTrigger)
	s.mux.HandleFunc("POST /v1/triggers/{trigger}/disable", s.disableTrigger)
}

// TriggerList is the answer of GET /v1/triggers.
type TriggerList struct {
	Triggers []*trigger.Definition `json:"triggers"`
}

// TriggerApplied is the answer of PUT /v1/triggers/{trigger}.
type TriggerApplied struct {
	*trigger.Definition
	// Created is true when the trigger is new, false when it was updated.
	Created bool `json:"created"`
}

// readSpec reads a trigger spec body (JSON or YAML, at most 1 MiB).
func readSpec(r *http.Request) (*trigger.Spec, error) {
	body, release, err := ReadBody(r, 1<<20)
	if err != nil {
		return nil, err
	}
	defer release()
	return trigger.ParseSpec(body)
}

func (s *Server) createTrigger(w http.ResponseWriter, r *http.Request) {
	spec, err := readSpec(r)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	d, err := s.triggers.Create(r.Context(), spec)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

func (s *Server) applyTrigger(w http.ResponseWriter, r *http.Request) {
	spec, err := readSpec(r)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if name := r.PathValue("trigger"); spec.Name != name {
		WriteError(w, r, s.logger, fmt.Errorf("%w: name: the body names %q, the path %q", trigger.ErrInvalidArgument, spec.Name, name))
		return
	}
	d, created, err := s.triggers.Apply(r.Context(), spec)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, TriggerApplied{Definition: d, Created: created})
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request) {
	defs, err := s.triggers.List(r.Context())
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	if defs == nil {
		defs = []*trigger.Definition{}
	}
	writeJSON(w, http.StatusOK, TriggerList{Triggers: defs})
}

func (s *Server) describeTrigger(w http.ResponseWriter, r *http.Request) {
	st, err := s.triggers.Describe(r.Context(), r.PathValue("trigger"))
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) deleteTrigger(w http.ResponseWriter, r *http.Request) {
	if err := s.triggers.Delete(r.Context(), r.PathValue("trigger")); err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) enableTrigger(w http.ResponseWriter, r *http.Request)  { s.setTrigger(w, r, true) }
func (s *Server) disableTrigger(w http.ResponseWriter, r *http.Request) { s.setTrigger(w, r, false) }

func (s *Server) setTrigger(w http.ResponseWriter, r *http.Request, enabled bool) {
	d, err := s.triggers.SetEnabled(r.Context(), r.PathValue("trigger"), enabled)
	if err != nil {
		WriteError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
