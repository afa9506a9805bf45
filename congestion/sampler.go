package congestion

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aqueduct-cdn/aqueduct/internal/tcpinfo"
)

// Direction says which way a watched connection carries the flow's data.
type Direction int

const (
	// Send: this end sends the data. The kernel sees everything: bytes
	// acknowledged, segments sent and retransmitted, timeouts.
	Send Direction = iota
	// Receive: this end fetches. The kernel counts the bytes received and
	// the round trip of what this end sends (its requests); the sender's
	// losses are estimated from the segments that arrive out of order
	// (receiveLoss), and the busy time is the application's
	// (Flow.SetBusy).
	Receive
)

// ErrNoWatch is Watch's error on a Manager made with Config.NoWatch.
var ErrNoWatch = errors.New("congestion: the manager does not sample connections (Config.NoWatch)")

// Bounds of the interval at which watched connections are sampled: half a
// round trip, within these.
const (
	MinSampleInterval = 20 * time.Millisecond
	MaxSampleInterval = time.Second
)

// Watch has the CM sample the kernel's TCP state of c (TCP_INFO) for the
// flow, at an interval of half the flow's round trip (within
// MinSampleInterval and MaxSampleInterval; an idle flow at the longest),
// until the flow is closed or c is. It fails if c is not a TCP (or MPTCP)
// connection or the platform cannot tell; the flow then needs Observe or
// Update to learn anything. The sampler runs on the wall clock's timers and
// stamps samples with Config.Now.
func (f *Flow) Watch(c net.Conn, dir Direction) error {
	if f.m.cfg.NoWatch {
		return ErrNoWatch
	}
	ti, err := tcpinfo.Get(c)
	if err != nil {
		return fmt.Errorf("congestion: watch: %w", err)
	}
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if f.closed || m.closed {
		return nil
	}
	f.conn, f.dir, f.rtos = c, dir, ti.RTOs
	f.observeLocked(f.sampleOf(ti, m.cfg.Now()))
	f.next = time.Now().Add(MinSampleInterval)
	m.watched[f] = struct{}{}
	if !m.sampling {
		m.sampling = true
		m.done.Add(1)
		go func() { defer m.done.Done(); m.sample() }()
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// sampleOf turns a TCP_INFO snapshot into a Sample of the flow; m.mu is
// held.
func (f *Flow) sampleOf(ti tcpinfo.Info, at time.Time) Sample {
	s := Sample{At: at, RTT: ti.RTT, MinRTT: ti.MinRTT}
	switch f.dir {
	case Send:
		// The kernel's busy time is not used: it counts in jiffies, and
		// a sender that paces itself is idle in between, so its rate is
		// per second of sample time unless it counts its own (SetBusy).
		s.Delivered, s.Sent, s.Lost = ti.BytesAcked, uint64(ti.SegsOut), uint64(ti.TotalRetrans)
		s.Timeout = ti.RTOs > f.rtos
		f.rtos = ti.RTOs
	case Receive:
		s.Delivered = ti.BytesReceived
		// The receiver's own estimate from the data it takes in: the
		// round trip of what this end sends (its small requests, acked
		// on data segments that wait for the sender's window) runs
		// seconds above the path's on a loaded connection.
		if ti.RcvRTT > 0 {
			s.RTT = ti.RcvRTT
		}
		f.receiveLoss(ti, &s)
	}
	return s
}

// receiveLoss estimates, at the receiving end, what the sender lost: a
// lost segment leaves a hole, and the segments sent in the round trip
// until its retransmission arrives (about a window of them) arrive out of
// order behind it; so the holes are about the out-of-order segments
// divided by the window, which the flow's rate and RTT give. Reordering on
// the path counts as loss too. Sent and Lost count in thousandths of a
// segment; m.mu is held.
func (f *Flow) receiveLoss(ti tcpinfo.Info, s *Sample) {
	if f.haveRx {
		e := f.est.Estimate()
		window := max(1, e.Rate*e.RTT.Seconds()/segment)
		f.rxLost += float64(ti.OutOfOrder-f.rxOOO) / window
	}
	f.rxOOO, f.haveRx = ti.OutOfOrder, true
	s.Sent, s.Lost = uint64(ti.DataSegsIn)*1000, uint64(f.rxLost*1000)
}

// interval is how long after a sample the flow is sampled again; m.mu is
// held.
func (f *Flow) interval() time.Duration {
	if f.countsBusy && !f.busy {
		return MaxSampleInterval
	}
	return min(max(f.est.Estimate().RTT/2, MinSampleInterval, f.minInterval), MaxSampleInterval)
}

// SetMinInterval makes the CM sample the flow's connection no more often
// than every d (within MaxSampleInterval): for the many flows whose
// estimate is wanted coarsely, such as an edge's player connections,
// whose sampling would otherwise cost a system call every 20 ms each.
func (f *Flow) SetMinInterval(d time.Duration) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.minInterval = d
}

// sample is the sampler goroutine: it reads each watched connection's
// TCP_INFO when due. The system call runs outside the lock.
func (m *Manager) sample() {
	timer := time.NewTimer(MaxSampleInterval)
	defer timer.Stop()
	var due []*Flow
	for {
		select {
		case <-m.stop:
			return
		case <-m.wake:
		case <-timer.C:
		}
		now := time.Now()
		next := now.Add(MaxSampleInterval)
		due = due[:0]
		m.mu.Lock()
		for f := range m.watched {
			if !f.next.After(now) {
				due = append(due, f)
			} else if f.next.Before(next) {
				next = f.next
			}
		}
		m.mu.Unlock()
		for _, f := range due {
			ti, err := tcpinfo.Get(f.conn)
			m.mu.Lock()
			if _, ok := m.watched[f]; ok {
				if err != nil { // the connection is gone
					delete(m.watched, f)
				} else {
					f.observeLocked(f.sampleOf(ti, m.cfg.Now()))
					f.next = now.Add(f.interval())
					if f.next.Before(next) {
						next = f.next
					}
				}
			}
			m.mu.Unlock()
		}
		m.applyPacing()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

// SetBusy says whether the flow has demand now: data queued to send or
// requests outstanding. Once it has been called, the CM counts the flow's
// busy time (on Config.Now) and puts it in every sample that does not
// carry its own, so that the flow's rate is what the path gives it while
// it asks, and an idle flow keeps its estimate. A fetching flow calls it
// when its first request goes out and when its last answer is in.
func (f *Flow) SetBusy(busy bool) {
	m := f.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	f.countsBusy = true
	if busy == f.busy {
		return
	}
	if f.busy {
		f.busyTotal += max(now.Sub(f.busySince), 0)
	}
	f.busy, f.busySince = busy, now
	if busy && f.conn != nil {
		// An idle flow was sampled at the longest interval; sample it
		// soon now that it has work.
		if soon := time.Now().Add(f.interval()); soon.Before(f.next) {
			f.next = soon
			select {
			case m.wake <- struct{}{}:
			default:
			}
		}
	}
}

// busyAt is the flow's busy time up to now; m.mu is held.
func (f *Flow) busyAt(now time.Time) time.Duration {
	d := f.busyTotal
	if f.busy {
		d += max(now.Sub(f.busySince), 0)
	}
	return d
}
