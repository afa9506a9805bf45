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
	us := func(v uint64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Info{
		RTT:           us(uint64(ti.Rtt)),
		MinRTT:        us(uint64(ti.Min_rtt)),
		RcvRTT:        us(uint64(ti.Rcv_rtt)),
		Cwnd:          ti.Snd_cwnd,
		DeliveryRate:  ti.Delivery_rate,
		PacingRate:    ti.Pacing_rate,
		TotalRetrans:  ti.Total_retrans,
		RTOs:          ti.Total_rto,
		BytesAcked:    ti.Bytes_acked,
		SegsOut:       ti.Segs_out,
		Unacked:       ti.Unacked,
		NotSent:       ti.Notsent_bytes,
		BusyTime:      us(ti.Busy_time),
		RwndLimited:   us(ti.Rwnd_limited),
		SndbufLimited: us(ti.Sndbuf_limited),
		BytesReceived: ti.Bytes_received,
		DataSegsIn:    ti.Data_segs_in,
		OutOfOrder:    ti.Rcv_ooopack,
	}, nil
}
