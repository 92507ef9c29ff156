package stream

import "errors"

// Errors callers branch on; test with errors.Is.
var (
	// ErrNotFound means the stream (or consumer) does not exist.
	ErrNotFound = errors.New("stream: not found")
	// ErrExists means a stream of that name already exists.
	ErrExists = errors.New("stream: already exists")
	// ErrInvalidArgument wraps every problem with a caller's input; the
	// message names the problem.
	ErrInvalidArgument = errors.New("stream: invalid argument")
	// ErrThrottled means the engine pushed back (too much in flight, or a
	// storage limit); the caller should retry later.
	ErrThrottled = errors.New("stream: throttled")
	// ErrUnavailable means the engine could not be reached, failed, or
	// could not store a write (its storage full, the partition over a
	// limit); the write may or may not have been stored. Retry later.
	ErrUnavailable = errors.New("stream: engine unavailable")
	// ErrClosed is returned after the manager is closed.
	ErrClosed = errors.New("stream: closed")
)
