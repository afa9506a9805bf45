package linkem

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// OpenTUN creates the TUN device name (layer 3, no packet-information
// header) in the network namespace of the calling thread and returns it
// open and non-blocking, so that reads go through Go's poller and honour
// deadlines. The device exists while the file is open: closing it, or the
// death of the process, removes the device. Callers that switch namespaces
// must lock the calling goroutine to its thread. Needs CAP_NET_ADMIN.
func OpenTUN(name string) (*os.File, error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("linkem: TUN name %q: need 1 to %d bytes", name, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linkem: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linkem: TUN %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linkem: TUNSETIFF %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun:"+name), nil
}
