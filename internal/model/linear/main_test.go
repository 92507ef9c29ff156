package linear_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The conformance suite starts goroutines; none may outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
