package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/trigger"
)

// Errors of the HTTP layer itself.
var (
	// ErrBodyTooLarge means a request body exceeded its limit.
	ErrBodyTooLarge = errors.New("api: request body too large")
	// ErrMalformed means a request body or parameter could not be parsed;
	// the message names the problem.
	ErrMalformed = errors.New("api: malformed request")
)

// ErrorCode is a stable, documented error code of the native API.
type ErrorCode struct {
	Err    error  // the sentinel (test with errors.Is)
	Status int    // HTTP status
	Code   string // the code clients branch on
}

// errorCodes maps sentinels to statuses and codes; the first match wins.
var errorCodes = []ErrorCode{
	{engine.ErrStorageFull, http.StatusInsufficientStorage, "insufficient_storage"},
	{ErrMalformed, http.StatusBadRequest, "malformed_request"},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{stream.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument"},
	{stream.ErrNotFound, http.StatusNotFound, "not_found"},
	{stream.ErrExists, http.StatusConflict, "already_exists"},
	{stream.ErrThrottled, http.StatusTooManyRequests, "throttled"},
	{stream.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{stream.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{table.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument"},
	{table.ErrNotFound, http.StatusNotFound, "not_found"},
	{table.ErrExists, http.StatusConflict, "already_exists"},
	{table.ErrConditionFailed, http.StatusConflict, "condition_failed"},
	{table.ErrTransactionCanceled, http.StatusConflict, "transaction_canceled"},
	{table.ErrConflict, http.StatusConflict, "conflict"},
	{table.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{table.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{etl.ErrInvalid, http.StatusBadRequest, "invalid_argument"},
	{etl.ErrNotFound, http.StatusNotFound, "not_found"},
	{etl.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{trigger.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument"},
	{trigger.ErrNotFound, http.StatusNotFound, "not_found"},
	{trigger.ErrExists, http.StatusConflict, "already_exists"},
	{trigger.ErrConflict, http.StatusConflict, "conflict"},
	{trigger.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{model.ErrInvalidArgument, http.StatusBadRequest, "invalid_argument"},
	{model.ErrInvalidInput, http.StatusBadRequest, "invalid_input"},
	{model.ErrInvalidModel, http.StatusBadRequest, "invalid_model"},
	{model.ErrUnsupported, http.StatusBadRequest, "unsupported_model"},
	{model.ErrUnknownFormat, http.StatusBadRequest, "unknown_format"},
	{model.ErrNotFound, http.StatusNotFound, "not_found"},
	{model.ErrExists, http.StatusConflict, "already_exists"},
	{model.ErrNotApproved, http.StatusConflict, "not_approved"},
	{model.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{catalog.ErrInvalid, http.StatusBadRequest, "invalid_argument"},
	{catalog.ErrRecordInvalid, http.StatusBadRequest, "schema_mismatch"},
	{catalog.ErrNotFound, http.StatusNotFound, "not_found"},
	{catalog.ErrExists, http.StatusConflict, "already_exists"},
	{catalog.ErrIncompatible, http.StatusConflict, "incompatible_schema"},
	{catalog.ErrConflict, http.StatusConflict, "conflict"},
	{catalog.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{catalog.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout"},
	{auth.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{auth.ErrForbidden, http.StatusForbidden, "forbidden"},
	{auth.ErrInvalidScope, http.StatusBadRequest, "invalid_argument"},
	{auth.ErrKeyNotFound, http.StatusNotFound, "not_found"},
}

// ErrorCodes returns the table of error codes (for documentation).
func ErrorCodes() []ErrorCode { return errorCodes }

// errorStatus returns the HTTP status and code of err.
func errorStatus(err error) (int, string) {
	for _, ec := range errorCodes {
		if errors.Is(err, ec.Err) {
			return ec.Status, ec.Code
		}
	}
	return http.StatusInternalServerError, "internal"
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError writes err as a native API error. Errors with no code are
// internal: they are logged at Error with the request.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, code := errorStatus(err)
	if status == http.StatusInternalServerError && r.Context().Err() != nil {
		// The client went away (or the server is stopping): nothing is
		// wrong with the server, and no one reads the answer.
		logger.Debug("request abandoned", "method", r.Method, "path", r.URL.Path, "err", err)
	} else if status == http.StatusInternalServerError {
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: err.Error()}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encode response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
