//go:build !linux

package tcpinfo

import "syscall"

func get(rc syscall.RawConn) (Info, error) { return Info{}, ErrUnsupported }
