package peer

import (
	"sync"
	"syscall"
)

// warned remembers the congestion controls the kernel refused, so each is
// logged once.
var warned sync.Map

// congestionControl returns a socket Control function that sets
// cfg.Congestion, or nil if none is asked for. A refusal is logged once and
// the socket keeps the kernel's default: a peer link that works with
// another congestion control is better than none.
func congestionControl(cfg Config) func(network, address string, c syscall.RawConn) error {
	if cfg.Congestion == "" {
		return nil
	}
	return func(network, address string, c syscall.RawConn) error {
		if err := setCongestion(c, cfg.Congestion); err != nil {
			if _, seen := warned.LoadOrStore(cfg.Congestion, true); !seen {
				cfg.Logger.Warn("cannot use the requested congestion control; using the kernel's default",
					"congestion", cfg.Congestion, "err", err,
					"hint", "load its module and list it in net.ipv4.tcp_allowed_congestion_control")
			}
		}
		return nil
	}
}

// Congestion reports the congestion control of the connection's socket.
func (c *Conn) Congestion() (string, error) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return "", errNotSocket
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return "", err
	}
	return congestionOf(rc)
}
