package kinesis

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pricestream/pricestream/internal/stream"
)

// Error is a Kinesis API error: its Type is the __type of the answer.
type Error struct {
	Type    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func errorf(typ string, status int, format string, args ...any) *Error {
	return &Error{Type: typ, Status: status, Message: fmt.Sprintf(format, args...)}
}

func validation(format string, args ...any) *Error {
	return errorf("ValidationException", http.StatusBadRequest, format, args...)
}

func invalidArgument(format string, args ...any) *Error {
	return errorf("InvalidArgumentException", http.StatusBadRequest, format, args...)
}

// toError maps the streams' errors to Kinesis errors.
func (h *Handler) toError(err error, streamName string) *Error {
	var ke *Error
	switch {
	case errors.As(err, &ke):
		return ke
	case errors.Is(err, stream.ErrNotFound):
		return errorf("ResourceNotFoundException", http.StatusBadRequest, "Stream %s under account %s not found.", streamName, h.cfg.AccountID)
	case errors.Is(err, stream.ErrExists):
		return errorf("ResourceInUseException", http.StatusBadRequest, "Stream %s under account %s already exists.", streamName, h.cfg.AccountID)
	case errors.Is(err, stream.ErrInvalidArgument):
		return invalidArgument("%s", err.Error())
	case errors.Is(err, stream.ErrThrottled):
		return errorf("ProvisionedThroughputExceededException", http.StatusBadRequest, "Rate exceeded for stream %s under account %s: %s", streamName, h.cfg.AccountID, err.Error())
	case errors.Is(err, context.Canceled):
		return errorf("RequestCanceled", 499, "request canceled")
	}
	return errorf("InternalFailure", http.StatusInternalServerError, "%s", err.Error())
}

// recordErrorCode is the per-record ErrorCode of a failed PutRecords entry.
func recordErrorCode(err error) string {
	if errors.Is(err, stream.ErrThrottled) {
		return "ProvisionedThroughputExceededException"
	}
	return "InternalFailure"
}
