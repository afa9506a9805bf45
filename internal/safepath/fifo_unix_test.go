//go:build unix

package safepath

import (
	"errors"
	"syscall"
)

const haveFIFO = true

var errNoFIFO = errors.New("no FIFOs")

func mkfifo(name string) error { return syscall.Mkfifo(name, 0o644) }
