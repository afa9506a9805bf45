//go:build !linux

package peer

import (
	"errors"
	"syscall"
)

var errNoCongestion = errors.New("peer: choosing the congestion control is supported on Linux only")

func setCongestion(c syscall.RawConn, name string) error { return errNoCongestion }

func congestionOf(c syscall.RawConn) (string, error) { return "", errNoCongestion }
