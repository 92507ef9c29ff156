package model

import (
	"errors"
	"fmt"
)

// Errors of the registry and the endpoints that callers branch on; test
// with errors.Is.
var (
	// ErrNotFound means a model package, model version or endpoint does
	// not exist.
	ErrNotFound = errors.New("model: not found")
	// ErrExists means an endpoint of that name already exists.
	ErrExists = errors.New("model: already exists")
	// ErrNotApproved means a model version that is not Approved was asked
	// to take production traffic without Force.
	ErrNotApproved = errors.New("model: model version not approved")
	// ErrInvalidArgument wraps every problem with a definition a caller
	// gave (a name, a weight, a feature list); the message names it.
	ErrInvalidArgument = errors.New("model: invalid argument")
	// ErrInvalidInput means a prediction request was refused because of
	// what it asked: a row of the wrong length or type, an unknown
	// variant, a malformed payload. Retrying it cannot succeed; the errors
	// of this kind are [*InputError] values.
	ErrInvalidInput = errors.New("model: invalid input")
	// ErrUnknownVariant means a request named a production variant the
	// endpoint does not have; it comes inside an [*InputError].
	ErrUnknownVariant = errors.New("model: unknown variant")
	// ErrClosed is returned by [Endpoints] after Close.
	ErrClosed = errors.New("model: closed")
)

// InputError is a prediction request refused for its input. Its message
// is the message of Err alone; errors.Is matches both ErrInvalidInput and
// whatever Err wraps (such as ErrFeatureCount).
type InputError struct {
	Err error
}

// Error returns the message of Err.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *InputError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// inputErrorf returns an *InputError with a formatted message.
func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// InputErrorf returns an [*InputError] with a formatted message; payload
// decoders outside this package use it so that their errors classify as
// ErrInvalidInput. Use %w to wrap a cause.
func InputErrorf(format string, args ...any) error { return inputErrorf(format, args...) }
