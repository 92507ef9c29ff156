package catalog

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits of definitions.
const (
	MaxNameLen        = 128
	MaxDescriptionLen = 2048
	MaxColumns        = 10_000
	MaxParameters     = 256
	MaxParameterLen   = 4096
)

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,127}$`)

// ValidateName checks a database or table name: 1 to 128 characters of
// a-z, A-Z, 0-9, '_' and '-', not starting with a digit or '-'. Names are
// case-sensitive.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: want 1-%d characters of a-z, A-Z, 0-9, '_', '-', starting with a letter or '_'", name, MaxNameLen)
	}
	return nil
}

// streamNameRE is the stream package's rule for stream names (the catalog
// does not import stream; a location naming a stream that breaks it could
// never be found).
var streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

func validateStreamName(name string) error {
	if !streamNameRE.MatchString(name) {
		return fmt.Errorf("stream name %q: want 1-128 characters of a-z, A-Z, 0-9, '_', '.', '-'", name)
	}
	return nil
}

// Keys of the catalog bucket. Names hold no '.', so the layout is
// unambiguous; stream names may, and become '=' as in the stream registry.
//
//	db.<database>                  the database
//	tbl.<database>.<table>         the table's latest version
//	ver.<database>.<table>.<n>     version n of the table, once superseded
//	bind.<stream>                  the stream's ingest binding
func dbKey(db string) string           { return "db." + db }
func tableKey(db, table string) string { return "tbl." + db + "." + table }
func versionPrefix(db, table string) string {
	return "ver." + db + "." + table + "."
}
func versionKey(db, table string, v int) string {
	return versionPrefix(db, table) + itoa(v)
}
func bindKey(stream string) string { return "bind." + strings.ReplaceAll(stream, ".", "=") }
func bindStream(key string) string {
	return strings.ReplaceAll(strings.TrimPrefix(key, "bind."), "=", ".")
}
