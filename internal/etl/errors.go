package etl

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on; test with errors.Is.
var (
	// ErrInvalid wraps every problem with a job document or a request; the
	// message names the problem and its path.
	ErrInvalid = errors.New("etl: invalid job")
	// ErrNotFound means the job (or a stream or table it names) does not
	// exist.
	ErrNotFound = errors.New("etl: not found")
	// ErrClosed is returned after the manager is closed.
	ErrClosed = errors.New("etl: closed")
)

// specErrors collects the problems of a job document, each with its path.
type specErrors struct{ errs []error }

func (e *specErrors) add(path, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, args...)))
}

// addErr adds every error err joins, each with the full path: a sub-error
// that starts with its own index ("[1].path: ...") continues path
// ("transforms[0].resolve_choice[1].path: ...").
func (e *specErrors) addErr(path string, err error) {
	if err == nil {
		return
	}
	if subs := unjoin(err); len(subs) > 1 {
		for _, sub := range subs {
			e.addErr(path, sub)
		}
		return
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, ErrInvalid.Error()+": ")
	if strings.HasPrefix(msg, "[") {
		e.errs = append(e.errs, fmt.Errorf("%w: %s%s", ErrInvalid, path, msg))
		return
	}
	e.errs = append(e.errs, fmt.Errorf("%w: %s: %s", ErrInvalid, path, msg))
}

func (e *specErrors) err() error { return errors.Join(e.errs...) }

// RecordError is the error of a record that a stage could not process: it
// sends the record to the dead-letter stream with Reason and Stage.
type RecordError struct {
	Stage  string // decode, transforms[2].filter, join products, window, sink
	Reason string // late, decode, cast, assert, ... (a short word)
	Err    error
}

// Error returns "etl: STAGE: REASON: ERR".
func (e *RecordError) Error() string {
	s := "etl: " + e.Stage + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *RecordError) Unwrap() error { return e.Err }
