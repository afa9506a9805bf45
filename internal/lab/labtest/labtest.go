// Package labtest holds test helpers for code that uses the lab testbed:
// a RequireRoot that skips with a clear message where the testbed cannot
// run, and a leak check.
package labtest

import (
	"context"
	"testing"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
)

// RequireRoot skips the test unless the testbed can run here: Linux, root,
// /dev/net/tun and iproute2.
func RequireRoot(t testing.TB) {
	t.Helper()
	if err := lab.Preflight(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// ID returns a testbed ID unique to this test run, for TestbedConfig.ID,
// and registers a cleanup that fails the test if anything named with it is
// left behind, then removes it so that one failure does not leak into the
// next test.
func ID(t testing.TB) string {
	t.Helper()
	id := "t" + time.Now().Format("150405") + randHex(3)
	prefix := lab.Prefix + id
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		left, err := lab.Leftovers(ctx, prefix)
		if err != nil {
			t.Errorf("leak check: %v", err)
		}
		if !left.Empty() {
			t.Errorf("left behind: %v", left)
			if _, err := lab.Clean(ctx, prefix, true); err != nil {
				t.Errorf("clean: %v", err)
			}
		}
	})
	return id
}
