package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers branch on; test with errors.Is. The api package maps each
// to an HTTP status and a stable error code.
var (
	// ErrNotFound means the database, table, version or stream binding does
	// not exist.
	ErrNotFound = errors.New("catalog: not found")
	// ErrExists means a database or table of that name already exists.
	ErrExists = errors.New("catalog: already exists")
	// ErrInvalid wraps every problem with a caller's definition or argument;
	// a [*DefinitionError] lists each problem with its path.
	ErrInvalid = errors.New("catalog: invalid definition")
	// ErrIncompatible means a new schema breaks the table's compatibility
	// mode; the message names the column and the reason.
	ErrIncompatible = errors.New("catalog: incompatible schema")
	// ErrConflict means the table changed under the caller (an expected
	// version that is no longer the latest, or writers that kept racing), or
	// that a database still holds tables.
	ErrConflict = errors.New("catalog: conflict")
	// ErrUnavailable means the engine could not be reached, failed, or
	// could not store a write (its storage full, the catalog's bucket
	// over a limit). Retry later.
	ErrUnavailable = errors.New("catalog: engine unavailable")
	// ErrClosed is returned after [Catalog.Close].
	ErrClosed = errors.New("catalog: closed")
	// ErrRecordInvalid means records of a put do not match the schema of the
	// catalog table their stream is bound to, under the reject policy; the
	// message names each record and its violations.
	ErrRecordInvalid = errors.New("catalog: records do not match the table schema")
)

// Problem is one thing wrong with a definition: where (the field path, and
// the line and column in a YAML or JSON document when known) and what.
type Problem struct {
	// Path names the field, as in "columns[3].type" or "format.delimiter".
	Path string
	// Line and Col locate the field in its document (1-based); 0 when the
	// definition did not come from a document.
	Line, Col int
	// Msg says what is wrong.
	Msg string
}

// String returns "line:col: path: msg" (without the position when unknown).
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Col)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// DefinitionError lists every problem of a definition at once. It wraps
// [ErrInvalid].
type DefinitionError struct {
	// Source names the document (a file name), or is empty.
	Source string
	// Problems are in the order of the definition's fields.
	Problems []Problem
}

// Error lists every problem, one per line after the first.
func (e *DefinitionError) Error() string {
	var b strings.Builder
	b.WriteString("catalog: invalid definition")
	if e.Source != "" {
		b.WriteString(" in ")
		b.WriteString(e.Source)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": ")
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, " (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns [ErrInvalid].
func (e *DefinitionError) Unwrap() error { return ErrInvalid }

// problems collects the problems of a definition while it is checked.
type problems struct {
	list []Problem
}

func (ps *problems) add(path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil or a *DefinitionError of the problems.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &DefinitionError{Problems: ps.list}
}

// invalidf returns an error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
