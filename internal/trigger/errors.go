package trigger

import "errors"

// Errors callers branch on; test with errors.Is.
var (
	// ErrNotFound means the trigger does not exist.
	ErrNotFound = errors.New("trigger: not found")
	// ErrExists means a trigger of that name exists (returned by
	// [Manager.Create], not by [Manager.Apply]).
	ErrExists = errors.New("trigger: already exists")
	// ErrInvalidArgument wraps every problem with a caller's input: a spec,
	// a filter pattern, a name. The message names the problem and its path.
	ErrInvalidArgument = errors.New("trigger: invalid argument")
	// ErrConflict means the definition changed between a read and a write
	// (two writers applied the same trigger at once); read it and retry.
	ErrConflict = errors.New("trigger: conflict")
	// ErrClosed is returned after [Manager.Close].
	ErrClosed = errors.New("trigger: closed")
)

// FunctionError is a function's failure as the runner saw it: the error
// and whether it is worth retrying. Functions may return one to refuse a
// batch without retries (Retryable false sends the records to the
// destination at once).
type FunctionError struct {
	// Err is the failure.
	Err error
	// Retryable false skips the retries (bisection still applies).
	Retryable bool
}

// Error returns the message of Err.
func (e *FunctionError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FunctionError) Unwrap() error { return e.Err }
