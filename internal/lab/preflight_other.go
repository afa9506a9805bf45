//go:build !linux

package lab

import "fmt"

// Preflight reports that the testbed needs Linux.
func Preflight() error { return fmt.Errorf("%w: not Linux", ErrUnsupported) }
