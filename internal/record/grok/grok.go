// Package grok decodes log lines into pricestream records with Grok
// patterns, as Glue's Grok classifiers and its grokPattern table parameter
// do: %{SYNTAX:field} references to named patterns expand to a regular
// expression (RE2), and each named capture becomes a field.
//
// github.com/elastic/go-grok (Elastic's, RE2-based) expands and matches
// the patterns and brings the pattern sets of Logstash (base patterns,
// httpd, syslog, java, AWS, HAProxy, PostgreSQL, Redis, …); this package
// turns its matches into records, with the fields in the order the pattern
// names them, typed by a schema when there is one.
//
// It imports only record and the Grok library. A [Codec] is safe for
// concurrent use and starts no goroutines.
package grok

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	gogrok "github.com/elastic/go-grok"
	"github.com/elastic/go-grok/patterns"

	"github.com/pricestream/pricestream/internal/record"
)

// Options configure a [Codec].
type Options struct {
	// Pattern is the Grok expression of one line, such as
	// "%{COMMONAPACHELOG}" or "%{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} %{GREEDYDATA:message}".
	Pattern string
	// CustomPatterns add or override named patterns (NAME → expression),
	// as Glue's CustomPatterns.
	CustomPatterns map[string]string
	// Schema, if set, types the fields it names with [record.Cast] (a
	// timestamp column parses its format); other fields stay strings.
	Schema *record.Schema
}

// Codec decodes one log line per record. It is immutable and safe for
// concurrent use.
type Codec struct {
	g      *gogrok.Grok
	fields []string
	types  []*record.Type // by field, nil for strings
}

var _ record.Decoder = (*Codec)(nil)

// sets are the pattern sets every Codec knows, beside the base patterns.
var sets = []map[string]string{
	patterns.AWS, patterns.Bind9, patterns.Bro, patterns.Exim, patterns.HAProxy, patterns.Httpd, patterns.Firewalls,
	patterns.Java, patterns.Junos, patterns.Maven, patterns.MCollective, patterns.MongoDB, patterns.PostgreSQL,
	patterns.Rails, patterns.Redis, patterns.Ruby, patterns.Squid, patterns.Syslog,
}

var customName = regexp.MustCompile(`^\w+$`)

// New compiles a pattern. Its errors name what is wrong: an unknown
// pattern name, a bad regular expression, a pattern with no named field.
func New(opts Options) (c *Codec, err error) {
	defer func() {
		if p := recover(); p != nil { // the library is outside code: never crash on a pattern
			c, err = nil, fmt.Errorf("grok: pattern %q: %v", opts.Pattern, p)
		}
	}()
	if strings.TrimSpace(opts.Pattern) == "" {
		return nil, errors.New("grok: empty pattern")
	}
	for _, name := range slices.Sorted(maps.Keys(opts.CustomPatterns)) {
		if !customName.MatchString(name) {
			return nil, fmt.Errorf("grok: custom pattern name %q: want letters, digits and _", name)
		}
	}
	g, err := gogrok.NewComplete(opts.CustomPatterns)
	if err != nil {
		return nil, fmt.Errorf("grok: %w", err)
	}
	if err := g.Compile(opts.Pattern, true); err != nil {
		return nil, fmt.Errorf("grok: pattern %q: %w", opts.Pattern, err)
	}
	c = &Codec{g: g, fields: fieldOrder(opts.Pattern, opts.CustomPatterns)}
	if len(c.fields) == 0 {
		return nil, fmt.Errorf("grok: pattern %q names no field: write %%{SYNTAX:field}", opts.Pattern)
	}
	c.types = make([]*record.Type, len(c.fields))
	if opts.Schema != nil {
		for i, f := range c.fields {
			if col := opts.Schema.Lookup(f); col != nil && col.Type.Kind != record.KindString {
				c.types[i] = col.Type
			}
		}
	}
	return c, nil
}

var reference = regexp.MustCompile(`%{(\w+)(?::([^:}]+))?(?::\w+)?}`)

// fieldOrder lists the named captures of a pattern in the order the
// expansion meets them, descending into the definitions it references.
func fieldOrder(pattern string, custom map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(expr string, depth int)
	walk = func(expr string, depth int) {
		if depth > 100 {
			return
		}
		for _, m := range reference.FindAllStringSubmatch(expr, -1) {
			if m[2] != "" && !seen[m[2]] {
				seen[m[2]] = true
				out = append(out, m[2])
			}
			if def, ok := lookup(m[1], custom); ok {
				walk(def, depth+1)
			}
		}
	}
	walk(pattern, 0)
	return out
}

func lookup(name string, custom map[string]string) (string, bool) {
	if d, ok := custom[name]; ok {
		return d, true
	}
	for _, s := range sets {
		if d, ok := s[name]; ok {
			return d, true
		}
	}
	d, ok := patterns.Default[name]
	return d, ok
}

// Fields returns the names of the pattern's fields in order.
func (c *Codec) Fields() []string { return c.fields }

// Match reports whether a line matches the pattern.
func (c *Codec) Match(line []byte) bool { return c.g.Match(bytes.TrimRight(line, "\r\n")) }

// Decode decodes one line (a trailing line break is ignored) into r, which
// it resets first: each field the line captures, in the pattern's order; a
// field that captured nothing is absent. A line the pattern does not match
// is a *record.DecodeError.
func (c *Codec) Decode(data []byte, r *record.Record) error {
	r.Reset()
	line := string(bytes.TrimRight(data, "\r\n"))
	m, err := c.g.ParseString(line)
	if err != nil {
		return &record.DecodeError{Format: "grok", Offset: -1, Index: -1, Msg: "cannot convert a capture", Err: err}
	}
	if len(m) == 0 {
		return &record.DecodeError{Format: "grok", Offset: -1, Index: -1, Msg: "the line does not match the pattern: " + cut(line, 80)}
	}
	for i, f := range c.fields {
		v, ok := m[f]
		if !ok {
			continue
		}
		val := record.StringValue(v)
		if t := c.types[i]; t != nil {
			cv, err := record.Cast(val, t)
			if err != nil {
				return &record.DecodeError{Format: "grok", Offset: -1, Index: -1, Field: f, Msg: err.Error()}
			}
			val = cv
		}
		r.Append(f, val)
	}
	return nil
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
