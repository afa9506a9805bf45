package lab_test

import (
	"strings"

	"golang.org/x/sys/unix"
)

func tcpCongestion(fd int) string {
	s, err := unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimRight(s, "\x00")
}
