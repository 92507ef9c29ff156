package sagemaker

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/payload"
)

// Headers of the SageMaker runtime API.
const (
	HeaderTargetVariant   = "X-Amzn-Sagemaker-Target-Variant"
	HeaderTargetModel     = "X-Amzn-Sagemaker-Target-Model"
	HeaderInferenceID     = "X-Amzn-Sagemaker-Inference-Id"
	HeaderInvokedVariant  = "X-Amzn-Invoked-Production-Variant"
	HeaderCustomAttribute = "X-Amzn-Sagemaker-Custom-Attributes"
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
	// AccountID names the account in messages. Default "000000000000".
	AccountID string
	// MaxBodyBytes bounds a request body. Default 6 MiB, SageMaker's
	// limit for real-time endpoints.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes is SageMaker's payload limit for real-time
// endpoints.
const DefaultMaxBodyBytes = 6 << 20

// Handler serves InvokeEndpoint and the container contract.
type Handler struct {
	cfg    Config
	lookup Lookup
	logger *slog.Logger
}

// New returns a handler over the endpoints lookup finds.
func New(cfg Config, lookup Lookup, logger *slog.Logger) (*Handler, error) {
	if lookup == nil {
		return nil, errors.New("sagemaker: no endpoint lookup")
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, lookup: lookup, logger: logger.With("component", "sagemaker")}, nil
}

// Mount adds POST /endpoints/{name}/invocations, the InvokeEndpoint API.
func (h *Handler) Mount(mux Mux) {
	mux.Handle("POST /endpoints/{name}/invocations", http.HandlerFunc(h.invokeEndpoint))
}

// MountContainer adds the SageMaker container contract: GET /ping and
// POST /invocations. The endpoint answering /invocations is the one
// named by the X-Amzn-SageMaker-Target-Model header (a multi-model
// container), else the one named single ("" when there are several).
func (h *Handler) MountContainer(mux Mux, single string) {
	mux.Handle("GET /ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	mux.Handle("POST /invocations", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get(HeaderTargetModel)
		if name == "" {
			name = single
		}
		// A target model is named like its file: model.json → model.
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			name = name[:i]
		}
		if name == "" {
			http.Error(w, "several models are loaded: name one with the X-Amzn-SageMaker-Target-Model header", http.StatusBadRequest)
			return
		}
		ep, err := h.lookup(name)
		if err != nil {
			http.Error(w, fmt.Sprintf("model %q is not loaded", name), http.StatusNotFound)
			return
		}
		if f := h.invoke(w, r, ep); f != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.msg+"\n")
		}
	}))
}

func (h *Handler) invokeEndpoint(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ep, err := h.lookup(name)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			writeError(w, "ValidationError", http.StatusBadRequest, fmt.Sprintf("Endpoint %s of account %s not found.", name, h.cfg.AccountID))
			return
		}
		h.logger.Error("endpoint lookup failed", "endpoint", name, "err", err)
		writeError(w, "InternalFailure", http.StatusInternalServerError, err.Error())
		return
	}
	f := h.invoke(w, r, ep)
	switch {
	case f == nil:
	case f.validation || f.status == http.StatusRequestEntityTooLarge:
		writeError(w, "ValidationError", f.status, f.msg)
	case f.status < 500:
		writeModelError(w, f.status, f.msg)
	default:
		h.logger.Error("invocation failed", "endpoint", name, "err", f.msg)
		writeError(w, "InternalFailure", http.StatusInternalServerError, f.msg)
	}
}

// failure is why an invocation got no answer: the status and message the
// model container would answer with. validation marks a request SageMaker
// itself refuses (a variant the endpoint does not have), not the model.
type failure struct {
	status     int
	msg        string
	validation bool
}

// invoke answers one invocation as the model container would. It writes a
// successful answer itself and returns nil; otherwise it returns the
// failure for the caller to write in its protocol's form.
func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, ep *model.Endpoint) *failure {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxBodyBytes+1))
	if err != nil {
		return &failure{status: http.StatusBadRequest, msg: "read body: " + err.Error()}
	}
	if int64(len(body)) > h.cfg.MaxBodyBytes {
		return &failure{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the request body is larger than the limit of %d bytes", h.cfg.MaxBodyBytes)}
	}
	ct := payload.MediaType(r.Header.Get("Content-Type"))
	if ct != payload.CSV && ct != payload.JSON {
		return &failure{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("content type %q is not supported; send text/csv or application/json", r.Header.Get("Content-Type"))}
	}
	accept := payload.MediaType(r.Header.Get("Accept"))
	if accept == "" || accept == "*/*" {
		accept = ct
	}
	if accept != payload.CSV && accept != payload.JSON {
		return &failure{status: http.StatusNotAcceptable, msg: fmt.Sprintf("cannot answer in %q; the model answers text/csv or application/json", r.Header.Get("Accept"))}
	}
	routing, err := ep.Routing()
	if err != nil {
		return &failure{status: http.StatusBadRequest, msg: fmt.Sprintf("Endpoint %s of account %s not found.", ep.Name(), h.cfg.AccountID), validation: true}
	}
	var rows [][]float64
	switch ct {
	case payload.CSV:
		rows, err = payload.DecodeCSV(body, routing.Features())
	default:
		rows, err = payload.DecodeJSON(body, routing.Features())
	}
	if err != nil {
		return &failure{status: http.StatusBadRequest, msg: err.Error()}
	}
	out := make([]float64, len(rows))
	res, err := routing.PredictBatch(r.Context(), model.Batch{
		Rows: rows, Variant: r.Header.Get(HeaderTargetVariant), InferenceID: r.Header.Get(HeaderInferenceID), ContentType: ct,
	}, out)
	if err != nil {
		if errors.Is(err, model.ErrInvalidInput) {
			if errors.Is(err, model.ErrUnknownVariant) {
				return &failure{status: http.StatusBadRequest, msg: err.Error(), validation: true}
			}
			return &failure{status: http.StatusBadRequest, msg: err.Error()}
		}
		return &failure{status: http.StatusInternalServerError, msg: err.Error()}
	}
	var b []byte
	if accept == payload.CSV {
		b = payload.AppendCSV(make([]byte, 0, 24*len(out)), out)
	} else {
		b = payload.AppendJSON(make([]byte, 0, 24*len(out)+20), out)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", accept)
	hdr.Set(HeaderInvokedVariant, res.Variant)
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	return nil
}

// writeError writes a SageMaker runtime error: the type in
// X-Amzn-ErrorType and a JSON body with the message, as restJson1 has it.
func writeError(w http.ResponseWriter, typ string, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(b)
}

// writeModelError writes what SageMaker answers when the model container
// refused a request: HTTP 424, ModelError, with the container's status
// and message.
func writeModelError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", "ModelError")
	w.WriteHeader(http.StatusFailedDependency)
	b, _ := json.Marshal(struct {
		ErrorCode          string `json:"ErrorCode"`
		Message            string `json:"Message"`
		OriginalMessage    string `json:"OriginalMessage"`
		OriginalStatusCode int    `json:"OriginalStatusCode"`
	}{
		ErrorCode:          "CLIENT_ERROR_FROM_MODEL",
		Message:            fmt.Sprintf("Received client error (%d) from primary with message %q.", status, msg),
		OriginalMessage:    msg,
		OriginalStatusCode: status,
	})
	_, _ = w.Write(b)
}
