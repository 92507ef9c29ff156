package model_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// The conformance suite, the endpoints' watcher and async worker, and the
// engine start goroutines; none may outlive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}
