package demo

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}
