package table

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Errors callers branch on; test with errors.Is.
var (
	// ErrNotFound means the table (or the named change reader) does not
	// exist. A missing item is not an error: Get returns a nil item.
	ErrNotFound = errors.New("table: not found")
	// ErrExists means a table of that name already exists.
	ErrExists = errors.New("table: already exists")
	// ErrInvalidArgument wraps every problem with a caller's input that the
	// item and expr packages do not report themselves; the message names
	// the problem. Their *item.ValidationError and *expr.ValidationError
	// are returned as they are.
	ErrInvalidArgument = errors.New("table: invalid argument")
	// ErrConditionFailed means a write's condition was false for the item
	// as it was; nothing was written. The error is a *[ConditionError]
	// carrying the item.
	ErrConditionFailed = errors.New("table: condition failed")
	// ErrConflict means a write lost a race with other writers more often
	// than it retries, or a transaction met another one; nothing was
	// written. Retry later.
	ErrConflict = errors.New("table: write conflict")
	// ErrTransactionCanceled means a transaction wrote nothing; the error
	// is a *[TransactionError] with one reason per action.
	ErrTransactionCanceled = errors.New("table: transaction canceled")
	// ErrUnavailable means the engine could not be reached, failed, or
	// could not store a write (its storage full, the table's stream over
	// a limit); a write may or may not have been stored. Retry later.
	ErrUnavailable = errors.New("table: engine unavailable")
	// ErrClosed is returned after the manager is closed.
	ErrClosed = errors.New("table: closed")
)

// invalid returns an error wrapping ErrInvalidArgument.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// ConditionError is the error of a write whose condition was false. It
// wraps [ErrConditionFailed].
type ConditionError struct {
	// Item is the item as it was when the condition was evaluated (nil if
	// it did not exist), for ReturnValuesOnConditionCheckFailure.
	Item item.Item
}

func (e *ConditionError) Error() string { return "table: the conditional request failed" }

// Unwrap returns ErrConditionFailed.
func (e *ConditionError) Unwrap() error { return ErrConditionFailed }

// Reason codes of a canceled transaction's actions, as DynamoDB names them.
const (
	ReasonNone                = "None"
	ReasonConditionFailed     = "ConditionalCheckFailed"
	ReasonTransactionConflict = "TransactionConflict"
	ReasonValidation          = "ValidationError"
)

// Reason says why one action of a canceled transaction did not apply.
type Reason struct {
	// Code is one of the Reason* constants.
	Code string
	// Message explains the code; empty for ReasonNone.
	Message string
	// Item is the item as it was, for a failed condition whose action asked
	// for it (ReturnValuesOnConditionCheckFailure ALL_OLD).
	Item item.Item
}

// TransactionError is the error of a canceled transaction: one reason per
// action, in the order of the actions. It wraps [ErrTransactionCanceled].
type TransactionError struct {
	Reasons []Reason
}

func (e *TransactionError) Error() string {
	codes := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		codes[i] = r.Code
	}
	return "table: transaction canceled, reasons [" + strings.Join(codes, ", ") + "]"
}

// Unwrap returns ErrTransactionCanceled.
func (e *TransactionError) Unwrap() error { return ErrTransactionCanceled }
