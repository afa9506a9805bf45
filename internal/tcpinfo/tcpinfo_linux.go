//go:build linux

package tcpinfo

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func get(rc syscall.RawConn) (Info, error) {
	var ti *unix.TCPInfo
	var serr error
	err := rc.Control(func(fd uintptr) {
		ti, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err != nil {
		return Info{}, err
	}
	if serr != nil {
		return Info{}, serr
	}
	return Info{
		RTT:          time.Duration(ti.Rtt) * time.Microsecond,
		MinRTT:       time.Duration(ti.Min_rtt) * time.Microsecond,
		Cwnd:         ti.Snd_cwnd,
		DeliveryRate: ti.Delivery_rate,
		TotalRetrans: ti.Total_retrans,
		BytesAcked:   ti.Bytes_acked,
		Unacked:      ti.Unacked,
		NotSent:      ti.Notsent_bytes,
	}, nil
}
