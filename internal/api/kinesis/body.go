package kinesis

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/goccy/go-json"
)

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readPooled reads a body of at most limit bytes into a pooled buffer.
func readPooled(r *http.Request, limit int64) ([]byte, func(), error) {
	if r.ContentLength > limit {
		return nil, nil, fmt.Errorf("request body of %d bytes exceeds the limit of %d", r.ContentLength, limit)
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		bodyPool.Put(buf)
		return nil, nil, fmt.Errorf("read request body: %v", err)
	}
	if n > limit {
		bodyPool.Put(buf)
		return nil, nil, fmt.Errorf("request body exceeds the limit of %d bytes", limit)
	}
	return buf.Bytes(), func() {
		if buf.Cap() <= 16<<20 {
			bodyPool.Put(buf)
		}
	}, nil
}

func jsonString(s string) ([]byte, error) { return json.Marshal(s) }
