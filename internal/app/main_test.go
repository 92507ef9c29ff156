package app

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// TestMain checks that an App's Close stops every goroutine it started.
// The tests' own HTTP clients keep idle connections to servers that have
// closed; their loops end on the next read, and are no goroutine of an App.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(enginetest.LeakOptions(),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)...)
}
