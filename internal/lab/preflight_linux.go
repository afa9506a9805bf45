package lab

import (
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Preflight reports why the testbed cannot run here, wrapping
// ErrUnsupported, or nil if it can.
func Preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not running as root (euid %d)", ErrUnsupported, os.Geteuid())
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: /dev/net/tun: %v", ErrUnsupported, err)
	}
	unix.Close(fd)
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: ip (iproute2) not found", ErrUnsupported)
	}
	return nil
}
