package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Error is a DynamoDB API error: its Type is the exception's name.
type Error struct {
	Type    string
	Status  int
	Message string
	// Item is the item of a ConditionalCheckFailedException that asked for
	// it; Reasons are a TransactionCanceledException's.
	Item    json.RawMessage
	Reasons []cancellationReason
	streams bool
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func (e *Error) namespace() string {
	if e.streams {
		return "com.amazonaws.dynamodb.v20120810"
	}
	return "com.amazonaws.dynamodb.v20120810"
}

type cancellationReason struct {
	Code    string          `json:"Code"`
	Message string          `json:"Message,omitempty"`
	Item    json.RawMessage `json:"Item,omitempty"`
}

func errorf(typ string, status int, format string, args ...any) *Error {
	return &Error{Type: typ, Status: status, Message: fmtErr(format, args...)}
}

func validation(format string, args ...any) *Error {
	return errorf("ValidationException", http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) *Error {
	return errorf("ResourceNotFoundException", http.StatusBadRequest, format, args...)
}

// toError maps the tables' errors to DynamoDB errors.
func (h *Handler) toError(err error, tableName string) *Error {
	var de *Error
	var ive *item.ValidationError
	var eve *expr.ValidationError
	var se *item.SyntaxError
	var ce *table.ConditionError
	var te *table.TransactionError
	switch {
	case errors.As(err, &de):
		return de
	case errors.As(err, &se):
		return errorf("SerializationException", http.StatusBadRequest, "%s", se.Error())
	case errors.As(err, &ive):
		return validation("%s", ive.Message())
	case errors.As(err, &eve):
		return validation("%s", eve.Message())
	case errors.As(err, &ce):
		e := errorf("ConditionalCheckFailedException", http.StatusBadRequest, "The conditional request failed")
		return e
	case errors.As(err, &te):
		codes := make([]string, len(te.Reasons))
		reasons := make([]cancellationReason, len(te.Reasons))
		for i, r := range te.Reasons {
			codes[i] = r.Code
			reasons[i] = cancellationReason{Code: r.Code, Message: r.Message}
			if r.Item != nil {
				reasons[i].Item = r.Item.AppendJSON(nil)
			}
		}
		e := errorf("TransactionCanceledException", http.StatusBadRequest, "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", strings.Join(codes, ", "))
		e.Reasons = reasons
		return e
	case errors.Is(err, table.ErrNotFound):
		return notFound("Requested resource not found: Table: %s not found", tableName)
	case errors.Is(err, table.ErrExists):
		return errorf("ResourceInUseException", http.StatusBadRequest, "Table already exists: %s", tableName)
	case errors.Is(err, table.ErrInvalidArgument):
		return validation("%s", strings.TrimPrefix(err.Error(), table.ErrInvalidArgument.Error()+": "))
	case errors.Is(err, table.ErrConflict):
		return errorf("TransactionConflictException", http.StatusBadRequest, "%s", err.Error())
	case errors.Is(err, table.ErrUnavailable), errors.Is(err, table.ErrClosed):
		return errorf("ServiceUnavailable", http.StatusServiceUnavailable, "%s", err.Error())
	case errors.Is(err, context.Canceled):
		return errorf("RequestCanceled", 499, "request canceled")
	}
	return errorf("InternalServerError", http.StatusInternalServerError, "%s", err.Error())
}
