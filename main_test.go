package secretcache

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// cache is closed by the end of its test, and Close must leave nothing
// running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
