//go:build linux

package sockopt

import (
	"fmt"
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

func check(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return fmt.Errorf("sockopt: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, name); err != nil {
		return fmt.Errorf("sockopt: congestion control %q: %w", name, err)
	}
	return nil
}

// setMaxPacingRate sets SO_MAX_PACING_RATE in bytes per second. The kernel
// paces TCP itself when no fq qdisc does (since Linux 4.13); MPTCP sockets
// refuse the option.
func setMaxPacingRate(c syscall.RawConn, rate uint64) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_MAX_PACING_RATE, rate)
	})
	if err != nil {
		return err
	}
	return serr
}
