package lab_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aqueduct-cdn/aqueduct/internal/lab"
)

// enableRxTimestamps asks the kernel to stamp every received packet
// (SO_TIMESTAMPNS), so that measurements do not include the time a busy
// machine takes to schedule the reading goroutine.
func enableRxTimestamps(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// rxTime extracts the kernel's receive timestamp from control messages.
func rxTime(oob []byte) (time.Time, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, err
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return time.Unix(sec, nsec), nil
		}
	}
	return time.Time{}, errors.New("no receive timestamp")
}

// icmpPing sends n ICMP echo requests from host from to addr, every
// interval, and returns the round trips of the replies, measured from just
// before each send to the kernel's receive timestamp of the reply. The far
// host's kernel answers: no application runs there.
func icmpPing(ctx context.Context, tb *lab.Testbed, from string, addr netip.Addr, n int, interval time.Duration) ([]time.Duration, error) {
	samples, err := icmpPingTimed(ctx, tb, from, addr, n, interval)
	var rtts []time.Duration
	for _, s := range samples {
		rtts = append(rtts, s.rtt)
	}
	return rtts, err
}

// pingSample is one echo's round trip and when its reply arrived.
type pingSample struct {
	at  time.Time
	rtt time.Duration
}

// icmpPingTimed is icmpPing with the reply times, in the order of arrival.
func icmpPingTimed(ctx context.Context, tb *lab.Testbed, from string, addr netip.Addr, n int, interval time.Duration) ([]pingSample, error) {
	pc, err := tb.ListenPacket(from, "ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	c := pc.(*net.IPConn)
	if err := enableRxTimestamps(c); err != nil {
		return nil, err
	}
	id := uint16(time.Now().UnixNano())
	sent := make([]time.Time, n)
	sentc := make(chan struct{})
	dst := &net.IPAddr{IP: addr.AsSlice()}
	go func() {
		defer close(sentc)
		msg := make([]byte, 16)
		for i := range n {
			msg[0], msg[1] = 8, 0 // echo request
			binary.BigEndian.PutUint16(msg[2:], 0)
			binary.BigEndian.PutUint16(msg[4:], id)
			binary.BigEndian.PutUint16(msg[6:], uint16(i))
			binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
			sent[i] = time.Now()
			if _, err := c.WriteTo(msg, dst); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	type reply struct {
		seq int
		at  time.Time
	}
	var replies []reply
	buf, oob := make([]byte, 1500), make([]byte, 128)
	c.SetReadDeadline(time.Now().Add(time.Duration(n)*interval + 3*time.Second))
	for len(replies) < n {
		k, oobn, _, _, err := c.ReadMsgIP(buf, oob)
		if err != nil {
			break
		}
		ihl := int(buf[0]&0x0f) * 4
		if k < ihl+8 || buf[ihl] != 0 || binary.BigEndian.Uint16(buf[ihl+4:]) != id {
			continue // not a reply to us
		}
		at, err := rxTime(oob[:oobn])
		if err != nil {
			return nil, err
		}
		replies = append(replies, reply{int(binary.BigEndian.Uint16(buf[ihl+6:])), at})
	}
	<-sentc // sent[] is complete
	var samples []pingSample
	for _, r := range replies {
		if r.seq < n && !sent[r.seq].IsZero() {
			samples = append(samples, pingSample{r.at, r.at.Sub(sent[r.seq])})
		}
	}
	if len(samples) < n*9/10 {
		return nil, fmt.Errorf("%d of %d replies", len(samples), n)
	}
	return samples, nil
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// onRealTimeThread runs fn on a locked thread under SCHED_FIFO (below the
// forwarders' priority), then lets the thread end.
func onRealTimeThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 5}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			errc <- fmt.Errorf("SCHED_FIFO: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
