//go:build !unix

package store

import (
	"errors"
	"os"
)

// openBlock opens a block file for reading.
func openBlock(name string) (*os.File, error) { return os.Open(name) }

// freeSpace is not known here: a lowered budget stays lowered.
func freeSpace(dir string) (int64, error) { return 0, errors.ErrUnsupported }
