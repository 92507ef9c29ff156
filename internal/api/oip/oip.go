// Package oip serves pricestream's endpoints with the Open Inference
// Protocol v2 (the REST protocol of KServe, NVIDIA Triton and Seldon
// MLServer), so clients and tools written for those servers can call them.
//
// An endpoint is a model; its production variants are the model's
// versions: /v2/models/{name}/infer routes by weight, and
// /v2/models/{name}/versions/{variant}/infer pins a variant. Routes:
//
//	GET  /v2                                  server metadata
//	GET  /v2/health/live, /v2/health/ready    liveness, readiness
//	GET  /v2/models/{name}[/versions/{v}]        model metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready  model readiness
//	POST /v2/models/{name}[/versions/{v}]/infer  inference
//
// The request and response bodies are those of package model/payload.
// Errors answer {"error": "message"}: 400 for a bad request, 404 for an
// unknown model or version, 500 otherwise.
//
// # Concurrency
//
// A [Handler] is safe for concurrent use and holds no per-request state.
// It imports model and model/payload only.
package oip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/payload"
)

// Lookup returns the endpoint of a name, or an error wrapping
// model.ErrNotFound.
type Lookup func(name string) (*model.Endpoint, error)

// Mux is where a handler adds its routes: an *http.ServeMux or an
// *api.Server.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Config configures the handler. A zero field means its default.
type Config struct {
	// MaxBodyBytes bounds a request body. Default 16 MiB.
	MaxBodyBytes int64
	// Ready reports whether the server is ready (for /v2/health/ready);
	// nil means always.
	Ready func(ctx context.Context) error
	// Version is the server version in the server metadata.
	Version string
}

// Handler serves the Open Inference Protocol.
type Handler struct {
	cfg    Config
	lookup Lookup
	logger *slog.Logger
}

// New returns a handler over the endpoints lookup finds.
func New(cfg Config, lookup Lookup, logger *slog.Logger) (*Handler, error) {
	if lookup == nil {
		return nil, errors.New("oip: no endpoint lookup")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 16 << 20
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, lookup: lookup, logger: logger.With("component", "oip")}, nil
}

// Mount adds the protocol's routes.
func (h *Handler) Mount(mux Mux) {
	mux.Handle("GET /v2", http.HandlerFunc(h.server))
	mux.Handle("GET /v2/health/live", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	}))
	mux.Handle("GET /v2/health/ready", http.HandlerFunc(h.ready))
	mux.Handle("GET /v2/models/{name}", http.HandlerFunc(h.metadata))
	mux.Handle("GET /v2/models/{name}/versions/{version}", http.HandlerFunc(h.metadata))
	mux.Handle("GET /v2/models/{name}/ready", http.HandlerFunc(h.modelReady))
	mux.Handle("GET /v2/models/{name}/versions/{version}/ready", http.HandlerFunc(h.modelReady))
	mux.Handle("POST /v2/models/{name}/infer", http.HandlerFunc(h.infer))
	mux.Handle("POST /v2/models/{name}/versions/{version}/infer", http.HandlerFunc(h.infer))
}

func (h *Handler) server(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "pricestream", "version": h.cfg.Version, "extensions": []string{}})
}

func (h *Handler) ready(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Ready != nil {
		if err := h.cfg.Ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

// routing finds the endpoint of the request and checks its version.
func (h *Handler) routing(w http.ResponseWriter, r *http.Request) (*model.Routing, string, bool) {
	name := r.PathValue("name")
	ep, err := h.lookup(name)
	var routing *model.Routing
	if err == nil {
		routing, err = ep.Routing()
	}
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("model %q not found", name))
		} else {
			writeError(w, http.StatusInternalServerError, err.Error())
		}
		return nil, "", false
	}
	version := r.PathValue("version")
	if version != "" {
		found := false
		for _, v := range routing.VariantNames() {
			found = found || v == version
		}
		if !found {
			writeError(w, http.StatusNotFound, fmt.Sprintf("model %q has no version %q (its versions are its production variants: %v)", name, version, routing.VariantNames()))
			return nil, "", false
		}
	}
	return routing, version, true
}

// metadataTensor describes a tensor in model metadata.
type metadataTensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	routing, _, ok := h.routing(w, r)
	if !ok {
		return
	}
	features := routing.Features()
	names := make([]string, len(features))
	types := make([]string, len(features))
	for i, f := range features {
		names[i], types[i] = f.Name, string(f.Type)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name":     r.PathValue("name"),
		"versions": routing.VariantNames(),
		"platform": "pricestream",
		"inputs":   []metadataTensor{{Name: "input-0", Datatype: "FP64", Shape: []int64{-1, int64(len(features))}}},
		"outputs":  []metadataTensor{{Name: payload.OutputName, Datatype: "FP64", Shape: []int64{-1}}},
		"parameters": map[string]any{
			"feature_names": names,
			"feature_types": types,
		},
	})
}

func (h *Handler) modelReady(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.routing(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "ready": true})
}

func (h *Handler) infer(w http.ResponseWriter, r *http.Request) {
	routing, version, ok := h.routing(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxBodyBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if int64(len(body)) > h.cfg.MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than the limit of %d bytes", h.cfg.MaxBodyBytes))
		return
	}
	id, rows, err := payload.DecodeInfer(body, routing.Features())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := make([]float64, len(rows))
	res, err := routing.PredictBatch(r.Context(), model.Batch{Rows: rows, Variant: version, InferenceID: id, ContentType: "application/json; oip=v2"}, out)
	if err != nil {
		if errors.Is(err, model.ErrInvalidInput) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		h.logger.Error("inference failed", "endpoint", r.PathValue("name"), "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	b := payload.AppendInferResponse(make([]byte, 0, 128+24*len(out)), r.PathValue("name"), res.Variant, id, out)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
