package tcpinfo

import (
	"errors"
	"net"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/sockopt"
)

// Info is a snapshot of a connection's TCP state. Counters are cumulative
// over the connection's life. Fields the running kernel does not report
// are zero.
type Info struct {
	RTT          time.Duration // smoothed round-trip time
	MinRTT       time.Duration // the lowest seen: the path's delay without queueing
	RcvRTT       time.Duration // the receiver's estimate of the round trip, from the data it gets; 0 until measured
	Cwnd         uint32        // congestion window, in segments
	DeliveryRate uint64        // bytes per second, the kernel's last estimate
	PacingRate   uint64        // bytes per second the kernel paces at now
	TotalRetrans uint32        // segments retransmitted over the connection's life
	RTOs         uint16        // retransmission timeouts over the connection's life

	// The sending direction.
	BytesAcked uint64 // bytes the other end has acknowledged
	SegsOut    uint32 // segments sent, retransmissions included
	Unacked    uint32 // segments sent and not yet acknowledged
	NotSent    uint32 // bytes in the send queue not yet sent

	// How long the connection had data to send (BusyTime), and how much of
	// that it was held by the receiver's window or by its own send buffer
	// rather than by the congestion window. The kernel counts these in
	// jiffies: a send shorter than one counts nothing.
	BusyTime, RwndLimited, SndbufLimited time.Duration

	// The receiving direction.
	BytesReceived uint64 // bytes of data received
	DataSegsIn    uint32 // segments of data received
	OutOfOrder    uint32 // segments received out of order: a hole ahead of them, lost or reordered on the way
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
