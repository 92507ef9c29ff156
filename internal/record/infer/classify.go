package infer

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// Format is a data format, named as Glue classifiers name them.
type Format string

// The formats a crawler recognizes.
const (
	FormatUnknown   Format = "unknown"
	FormatJSON      Format = "json"       // one object, or an array of objects
	FormatJSONLines Format = "json_lines" // objects one per line
	FormatCSV       Format = "csv"        // delimited text (also tab, pipe, semicolon, \x01)
	FormatAvro      Format = "avro"       // Avro object container file
	FormatParquet   Format = "parquet"    // Parquet file
)

// Classification is what a classifier concluded about a sample, with its
// certainty from 0 to 1 as Glue classifiers report it: 1 means sure.
type Classification struct {
	Format    Format
	Certainty float64
	// Delimiter of CSV.
	Delimiter byte
	// Header says whether the first CSV line names the columns.
	Header bool
	// Reason explains the certainty in a few words.
	Reason string
}

// csvDelimiters are the delimiters Glue's CSV classifier tries, in order of
// preference on a tie.
var csvDelimiters = []byte{',', '\t', '|', ';', '\x01'}

// maxClassifyLines bounds the lines a text classifier looks at.
const maxClassifyLines = 200

// Classify returns the most certain classification of sample, the first
// bytes of a file or a few records of a stream joined by newlines
// (truncated says that sample may end in the middle of a record). As in
// Glue, the first classifier with certainty 1 wins, else the most certain;
// all 0 gives [FormatUnknown].
func Classify(sample []byte, truncated bool) Classification {
	all := ClassifyAll(sample, truncated)
	if len(all) == 0 {
		return Classification{Format: FormatUnknown, Reason: "no classifier recognized the data"}
	}
	return all[0]
}

// ClassifyAll returns every classification with a certainty above 0, most
// certain first.
func ClassifyAll(sample []byte, truncated bool) []Classification {
	var out []Classification
	switch {
	case bytes.HasPrefix(sample, []byte("Obj\x01")):
		return []Classification{{Format: FormatAvro, Certainty: 1, Reason: "Avro container magic"}}
	case bytes.HasPrefix(sample, []byte("PAR1")):
		c := Classification{Format: FormatParquet, Certainty: 1, Reason: "Parquet magic at both ends"}
		if !bytes.HasSuffix(sample, []byte("PAR1")) {
			c.Certainty, c.Reason = 0.9, "Parquet magic at the start"
		}
		return []Classification{c}
	}
	text := bytes.TrimPrefix(sample, []byte("\ufeff"))
	if c, ok := classifyJSON(text, truncated); ok {
		out = append(out, c)
	}
	out = append(out, classifyCSV(text, truncated)...)
	slices.SortStableFunc(out, func(a, b Classification) int {
		switch {
		case a.Certainty > b.Certainty:
			return -1
		case a.Certainty < b.Certainty:
			return 1
		}
		return 0
	})
	return out
}

func classifyJSON(text []byte, truncated bool) (Classification, bool) {
	trimmed := bytes.TrimLeft(text, " \t\r\n")
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return Classification{}, false
	}
	dec := record.NewJSONDecoder(record.JSONOptions{})
	ok, bad, lastBad := 0, 0, false
	for _, err := range dec.Records(trimmed) {
		if err != nil {
			bad++
			lastBad = true
		} else {
			ok++
			lastBad = false
		}
		if ok+bad >= maxClassifyLines {
			lastBad = false
			truncated = true
			break
		}
	}
	if truncated && lastBad {
		bad-- // a sample cut in the middle of the last record
	}
	if ok == 0 {
		return Classification{}, false
	}
	c := Classification{Format: FormatJSON, Certainty: float64(ok) / float64(ok+bad)}
	if trimmed[0] == '{' && (ok+bad > 1) {
		c.Format = FormatJSONLines
	}
	c.Reason = strings.TrimSpace(plural(ok, "object") + " parsed, " + plural(bad, "failed"))
	if trimmed[0] == '[' && bad > 0 && truncated {
		// an array cut short: every complete element parsed
		c.Certainty = 1
	}
	return c, true
}

func plural(n int, what string) string {
	return strconv.Itoa(n) + " " + what
}

// classifyCSV tries each delimiter and returns those that split the lines
// consistently into at least two fields.
func classifyCSV(text []byte, truncated bool) []Classification {
	lines := splitLines(text, maxClassifyLines+1)
	if truncated && len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last line may be cut
	}
	if len(lines) > maxClassifyLines {
		lines = lines[:maxClassifyLines]
	}
	if len(lines) == 0 {
		return nil
	}
	var out []Classification
	for _, d := range csvDelimiters {
		counts := make([]int, len(lines))
		for i, l := range lines {
			counts[i] = countFields(l, d)
		}
		first := counts[0]
		if first < 2 {
			continue
		}
		same := 0
		for _, c := range counts {
			if c == first {
				same++
			}
		}
		cert := float64(same) / float64(len(lines))
		if len(lines) < 2 {
			cert *= 0.5 // one line says little
		}
		header := detectHeader(lines, d)
		reason := strconv.Itoa(first) + " fields on " + strconv.Itoa(same) + " of " + strconv.Itoa(len(lines)) + " lines"
		if cert < 1 || !header {
			cert *= 0.9 // Glue's CSV classifier is sure only of a clean table with a header
		}
		out = append(out, Classification{Format: FormatCSV, Certainty: cert, Delimiter: d, Header: header, Reason: reason})
	}
	// most fields first among equally certain delimiters
	slices.SortStableFunc(out, func(a, b Classification) int {
		switch {
		case a.Certainty > b.Certainty:
			return -1
		case a.Certainty < b.Certainty:
			return 1
		}
		return 0
	})
	if len(out) > 1 {
		out = out[:1] // one delimiter: the best
	}
	return out
}

// splitLines returns up to n records' lines, joining lines inside quotes.
func splitLines(text []byte, n int) [][]byte {
	var out [][]byte
	start, inQuote := 0, false
	for i := 0; i < len(text) && len(out) < n; i++ {
		switch text[i] {
		case '"':
			inQuote = !inQuote
		case '\n':
			if !inQuote {
				line := bytes.TrimRight(text[start:i], "\r")
				if len(line) > 0 {
					out = append(out, line)
				}
				start = i + 1
			}
		}
	}
	if len(out) < n && start < len(text) {
		if line := bytes.TrimRight(text[start:], "\r\n"); len(line) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// countFields counts the fields of a line split by d, outside quotes.
func countFields(line []byte, d byte) int {
	n, inQuote := 1, false
	for _, c := range line {
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == d && !inQuote:
			n++
		}
	}
	return n
}

// splitSimple splits a line by d, outside quotes, without unquoting.
func splitSimple(line []byte, d byte) []string {
	var out []string
	start, inQuote := 0, false
	for i, c := range line {
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == d && !inQuote:
			out = append(out, strings.Trim(string(line[start:i]), `"`))
			start = i + 1
		}
	}
	return append(out, strings.Trim(string(line[start:]), `"`))
}

// detectHeader decides whether the first line names the columns: its cells
// are distinct, non-empty, and none is a number, a boolean or a time, while
// the lines after it are data. With a single line, identifier-like cells
// count as a header.
func detectHeader(lines [][]byte, d byte) bool {
	head := splitSimple(lines[0], d)
	seen := make(map[string]bool, len(head))
	for _, h := range head {
		h = strings.TrimSpace(h)
		if h == "" || seen[h] {
			return false
		}
		seen[h] = true
		var big bool
		if textCandidates(h, &big) != 0 {
			return false
		}
		if _, _, ok := record.DetectTimeFormat(h); ok {
			return false
		}
	}
	if len(lines) == 1 {
		return true
	}
	// the header differs from the data: some column holds typed values, or
	// the header cells do not reappear as values
	for _, l := range lines[1:min(len(lines), 20)] {
		for i, cell := range splitSimple(l, d) {
			if i < len(head) && cell == head[i] {
				return false
			}
		}
	}
	return true
}
