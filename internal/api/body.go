package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
)

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ReadBody reads a request body of at most limit bytes into a pooled
// buffer. The caller must call release when it no longer needs the bytes,
// and must not call it if anything may still refer to them.
func ReadBody(r *http.Request, limit int64) (body []byte, release func(), err error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > limit {
		bodyPool.Put(buf)
		return nil, nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		bodyPool.Put(buf)
		return nil, nil, fmt.Errorf("%w: read body: %v", ErrMalformed, err)
	}
	if n > limit {
		bodyPool.Put(buf)
		return nil, nil, fmt.Errorf("%w: more than the limit of %d bytes", ErrBodyTooLarge, limit)
	}
	return buf.Bytes(), func() {
		if buf.Cap() <= 16<<20 {
			bodyPool.Put(buf)
		}
	}, nil
}
