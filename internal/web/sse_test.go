package web

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// sseReader reads Server-Sent Events from a response.
type sseReader struct{ r *bufio.Reader }

func newSSEReader(resp *http.Response) *sseReader { return &sseReader{bufio.NewReader(resp.Body)} }

// next returns the next event that has data, with its type.
func (s *sseReader) next() (event, data string, err error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != "" {
				return event, data, nil
			}
			event = ""
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
