//go:build !unix

package store

import "os"

// openBlock opens a block file for reading.
func openBlock(name string) (*os.File, error) { return os.Open(name) }
