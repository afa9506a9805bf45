package edge

import (
	"testing"

	"github.com/aqueduct-cdn/aqueduct/internal/aqtest"
)

func TestMain(m *testing.M) { aqtest.VerifyTestMain(m) }
