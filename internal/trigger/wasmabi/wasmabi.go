package wasmabi

import "encoding/json"

// Handler processes one event (the batch's JSON) and returns a
// partial-batch response (nil or empty for success) or an error (the whole
// batch failed).
type Handler func(event []byte) (response []byte, err error)

var (
	handler Handler
	inBuf   []byte // the event buffer of the current call (kept alive)
	outBuf  []byte // the answer of the last call (kept alive)
)

// Handle sets the handler. Call it from init.
func Handle(h Handler) { handler = h }

// Alloc returns a buffer of size bytes that stays alive until the next
// call; the host writes the event into it.
func Alloc(size uint32) []byte {
	if cap(inBuf) < int(size) {
		inBuf = make([]byte, size)
	}
	inBuf = inBuf[:size]
	return inBuf
}

// Invoke runs the handler on event and returns the answer, which stays
// alive until the next call.
func Invoke(event []byte) []byte {
	if handler == nil {
		outBuf = errorAnswer("wasmabi: no handler: call wasmabi.Handle from init")
		return outBuf
	}
	resp, err := handler(event)
	if err != nil {
		outBuf = errorAnswer(err.Error())
		return outBuf
	}
	outBuf = resp
	return outBuf
}

func errorAnswer(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}

// Failures returns the partial-batch response naming the given sequence
// numbers.
func Failures(seqs ...string) []byte {
	type item struct {
		ItemIdentifier string `json:"itemIdentifier"`
	}
	r := struct {
		BatchItemFailures []item `json:"batchItemFailures"`
	}{BatchItemFailures: []item{}}
	for _, s := range seqs {
		r.BatchItemFailures = append(r.BatchItemFailures, item{s})
	}
	b, _ := json.Marshal(r)
	return b
}
