//go:build !linux

package sockopt

import "syscall"

func setCongestion(c syscall.RawConn, name string) error { return ErrUnsupported }

func congestionOf(c syscall.RawConn) (string, error) { return "", ErrUnsupported }

func check(name string) error { return ErrUnsupported }

func setMaxPacingRate(c syscall.RawConn, rate uint64) error { return ErrUnsupported }
