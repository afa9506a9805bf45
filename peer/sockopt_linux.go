//go:build linux

package peer

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setCongestion sets the socket's congestion control (TCP_CONGESTION). On an
// MPTCP socket the kernel applies it to every subflow.
func setCongestion(c syscall.RawConn, name string) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, name)
	})
	if err != nil {
		return err
	}
	return serr
}

// congestionOf reads the socket's congestion control.
func congestionOf(c syscall.RawConn) (string, error) {
	var name string
	var serr error
	err := c.Control(func(fd uintptr) {
		name, serr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	})
	if err != nil {
		return "", err
	}
	return name, serr
}
