package model_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The conformance suite, the endpoints' watcher and async worker, and the
// engine start goroutines; none may outlive a test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine"))
}
