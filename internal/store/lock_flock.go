//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly || illumos

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive flock(2) on dir/lock, so that two Stores
// (in one process or two) never share a directory. The lock goes when the
// returned file is closed, or when the process dies.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %s is in use by another store", dir)
		}
		return nil, fmt.Errorf("store: lock %s: %w", name, err)
	}
	return f, nil
}
