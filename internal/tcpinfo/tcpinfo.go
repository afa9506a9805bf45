package tcpinfo

import (
	"errors"
	"net"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
)

// Info is a snapshot of a connection's TCP state.
type Info struct {
	RTT          time.Duration // smoothed round-trip time
	MinRTT       time.Duration // the lowest seen: the path's delay without queueing
	Cwnd         uint32        // congestion window, in segments
	DeliveryRate uint64        // bytes per second, the kernel's last estimate
	TotalRetrans uint32        // segments retransmitted over the connection's life

	BytesAcked uint64 // bytes the other end has acknowledged
	Unacked    uint32 // segments sent and not yet acknowledged
	NotSent    uint32 // bytes in the send queue not yet sent
}

// Outstanding reports whether the connection holds data the other end has
// not acknowledged: sent and unacknowledged, or not sent yet.
func (i Info) Outstanding() bool { return i.Unacked > 0 || i.NotSent > 0 }

// Errors Get returns.
var (
	ErrUnsupported = errors.New("tcpinfo: not supported on this platform")
	ErrNotTCP      = errors.New("tcpinfo: not a TCP connection")
)

// Get reads c's TCP state. c must be a *net.TCPConn or wrap one (a type
// with a NetConn method, as crypto/tls.Conn has).
func Get(c net.Conn) (Info, error) {
	rc, err := sockopt.RawConn(c)
	if errors.Is(err, sockopt.ErrNotSocket) {
		return Info{}, ErrNotTCP
	}
	if err != nil {
		return Info{}, err
	}
	return get(rc)
}
