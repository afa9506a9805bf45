//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || illumos)

package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates dir/lock but cannot lock it: this system has no flock(2).
// Keeping one Store per directory is the caller's job here.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	return f, nil
}
