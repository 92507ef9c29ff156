package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pricestream/pricestream/internal/etl"
)

// Native API of streaming ETL jobs:
//
//	POST   /v1/jobs                    apply a job (body: the job document, YAML or JSON)
//	GET    /v1/jobs                    {"jobs": [names]}
//	GET    /v1/jobs/{job}              the job document (JSON)
//	DELETE /v1/jobs/{job}              delete the job and its checkpoints
//	POST   /v1/jobs/{job}/start        set the job to run
//	POST   /v1/jobs/{job}/stop         set the job to stop (it checkpoints)
//	GET    /v1/jobs/{job}/status       state and counters
//	GET    /v1/jobs/{job}/dlq          dead letters (limit)
//	POST   /v1/jobs/{job}/replay-dlq   send the dead letters through again (limit)

// JobList is the answer of GET /v1/jobs.
type JobList struct {
	Jobs []string `json:"jobs"`
}

// DeadLetterList is the answer of GET /v1/jobs/{job}/dlq.
type DeadLetterList struct {
	DeadLetters []etl.DeadLetter `json:"dead_letters"`
}

// ReplayResult is the answer of POST /v1/jobs/{job}/replay-dlq.
type ReplayResult struct {
	Replayed int `json:"replayed"`
}

// MountJobs serves /v1/jobs from jobs.
func MountJobs(s *Server, jobs *etl.Manager) {
	h := &jobsHandler{s: s, jobs: jobs}
	s.mux.HandleFunc("POST /v1/jobs", h.apply)
	s.mux.HandleFunc("GET /v1/jobs", h.list)
	s.mux.HandleFunc("GET /v1/jobs/{job}", h.describe)
	s.mux.HandleFunc("DELETE /v1/jobs/{job}", h.delete)
	s.mux.HandleFunc("POST /v1/jobs/{job}/start", h.start)
	s.mux.HandleFunc("POST /v1/jobs/{job}/stop", h.stop)
	s.mux.HandleFunc("GET /v1/jobs/{job}/status", h.status)
	s.mux.HandleFunc("GET /v1/jobs/{job}/dlq", h.dlq)
	s.mux.HandleFunc("POST /v1/jobs/{job}/replay-dlq", h.replay)
}

type jobsHandler struct {
	s    *Server
	jobs *etl.Manager
}

func (h *jobsHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, h.s.logger, err)
}

func (h *jobsHandler) apply(w http.ResponseWriter, r *http.Request) {
	body, release, err := ReadBody(r, 1<<20)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	spec, err := etl.Decode(body)
	release()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.jobs.Apply(r.Context(), spec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
}

func (h *jobsHandler) list(w http.ResponseWriter, r *http.Request) {
	names, err := h.jobs.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, http.StatusOK, JobList{Jobs: names})
}

func (h *jobsHandler) describe(w http.ResponseWriter, r *http.Request) {
	spec, err := h.jobs.Get(r.Context(), r.PathValue("job"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(spec.JSON())
}

func (h *jobsHandler) delete(w http.ResponseWriter, r *http.Request) {
	if err := h.jobs.Delete(r.Context(), r.PathValue("job")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *jobsHandler) start(w http.ResponseWriter, r *http.Request) {
	if err := h.jobs.Start(r.Context(), r.PathValue("job")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *jobsHandler) stop(w http.ResponseWriter, r *http.Request) {
	if err := h.jobs.Stop(r.Context(), r.PathValue("job")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *jobsHandler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.jobs.Status(r.Context(), r.PathValue("job"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("%w: limit %q: want 1-10000", ErrMalformed, s)
	}
	return n, nil
}

func (h *jobsHandler) dlq(w http.ResponseWriter, r *http.Request) {
	n, err := limitParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	dls, err := h.jobs.DeadLetters(r.Context(), r.PathValue("job"), n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if dls == nil {
		dls = []etl.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, DeadLetterList{DeadLetters: dls})
}

func (h *jobsHandler) replay(w http.ResponseWriter, r *http.Request) {
	n, err := limitParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sent, err := h.jobs.ReplayDeadLetters(r.Context(), r.PathValue("job"), n)
	if err != nil && !errors.Is(err, etl.ErrInvalid) && sent > 0 {
		h.fail(w, r, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ReplayResult{Replayed: sent})
}
