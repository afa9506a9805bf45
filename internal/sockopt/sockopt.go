package sockopt

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Options are the socket options of peer links.
type Options struct {
	// MPTCP asks for multipath TCP where the kernel offers it.
	MPTCP bool
	// Congestion names the congestion control ("bbr", "cubic", "reno");
	// empty keeps the kernel's default.
	Congestion string
}

// ErrUnsupported reports a platform that cannot choose the congestion
// control.
var ErrUnsupported = errors.New("sockopt: choosing the congestion control is supported on Linux only")

// ErrNotSocket reports a connection that is not a kernel socket.
var ErrNotSocket = errors.New("sockopt: not a socket")

// Dialer returns a dialer that makes sockets with o.
func (o Options) Dialer() *net.Dialer {
	d := &net.Dialer{Control: o.control()}
	d.SetMultipathTCP(o.MPTCP)
	return d
}

// ListenConfig returns a listen configuration whose listener, and the
// connections it accepts, have o.
func (o Options) ListenConfig() *net.ListenConfig {
	lc := &net.ListenConfig{Control: o.control()}
	lc.SetMultipathTCP(o.MPTCP)
	return lc
}

// control sets the congestion control on a new socket, ignoring a refusal
// (see the package documentation).
func (o Options) control() func(network, address string, c syscall.RawConn) error {
	if o.Congestion == "" {
		return nil
	}
	name := o.Congestion
	return func(_, _ string, c syscall.RawConn) error {
		_ = setCongestion(c, name)
		return nil
	}
}

// Check reports whether the kernel lets a socket of this process, in its
// network namespace, use the congestion control name: nil if so, else the
// kernel's refusal. An empty name is always fine.
func Check(name string) error {
	if name == "" {
		return nil
	}
	return check(name)
}

// Congestion reports the congestion control of c's socket. c must be a
// *net.TCPConn or wrap one (a type with a NetConn method).
func Congestion(c net.Conn) (string, error) {
	rc, err := RawConn(c)
	if err != nil {
		return "", err
	}
	return congestionOf(rc)
}

// Unpaced is the pacing rate that sets no limit.
const Unpaced = ^uint64(0)

// MaxPacingRate caps the rate at which the kernel sends on c's socket
// (SO_MAX_PACING_RATE), in bytes per second; Unpaced lifts the cap. It
// fails on MPTCP sockets, which do not take the option: their sender must
// pace itself.
func MaxPacingRate(c net.Conn, rate uint64) error {
	rc, err := RawConn(c)
	if err != nil {
		return err
	}
	if err := setMaxPacingRate(rc, rate); err != nil {
		return fmt.Errorf("sockopt: max pacing rate: %w", err)
	}
	return nil
}

// MultipathTCP reports whether c runs over MPTCP.
func MultipathTCP(c net.Conn) bool {
	tc, ok := unwrap(c).(*net.TCPConn)
	if !ok {
		return false
	}
	on, err := tc.MultipathTCP()
	return err == nil && on
}

func unwrap(c net.Conn) net.Conn {
	for {
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = w.NetConn()
	}
}

// RawConn returns the kernel socket under c, which must be a
// *net.TCPConn or wrap one (a type with a NetConn method, as
// crypto/tls.Conn has); ErrNotSocket otherwise.
func RawConn(c net.Conn) (syscall.RawConn, error) {
	sc, ok := unwrap(c).(syscall.Conn)
	if !ok {
		return nil, ErrNotSocket
	}
	return sc.SyscallConn()
}
