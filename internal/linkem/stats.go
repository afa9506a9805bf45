package linkem

import (
	"sync/atomic"
	"time"
)

// Stats counts what one direction of a link did. Packet sizes are IP-layer
// bytes.
type Stats struct {
	Packets, Bytes               uint64        // read from the source end
	LostPackets, LostBytes       uint64        // dropped by the loss process
	QueueDropPackets, QueueDrops uint64        // dropped by the full queue (packets, bytes)
	OverflowPackets              uint64        // dropped for want of room in the delay line, or too large
	DeliveredPackets, Delivered  uint64        // written to the destination end (packets, bytes)
	WriteErrors                  uint64        // writes the destination refused
	Late100us, Late1ms, Late10ms uint64        // releases more than 100 µs, 1 ms, 10 ms after their time
	MaxLate                      time.Duration // the latest release since the start or Forwarder.ResetMaxLate
	TotalLate                    time.Duration // sum of lateness over delivered packets
	CaptureDrops                 uint64        // delivered packets missing from the capture
}

// MeanLate returns the mean release lateness.
func (s Stats) MeanLate() time.Duration {
	if s.DeliveredPackets == 0 {
		return 0
	}
	return s.TotalLate / time.Duration(s.DeliveredPackets)
}

// Sub returns s−o for every counter, and s's MaxLate: the activity between
// two snapshots (reset MaxLate at the first to make it the interval's).
func (s Stats) Sub(o Stats) Stats {
	return Stats{
		Packets: s.Packets - o.Packets, Bytes: s.Bytes - o.Bytes,
		LostPackets: s.LostPackets - o.LostPackets, LostBytes: s.LostBytes - o.LostBytes,
		QueueDropPackets: s.QueueDropPackets - o.QueueDropPackets, QueueDrops: s.QueueDrops - o.QueueDrops,
		OverflowPackets:  s.OverflowPackets - o.OverflowPackets,
		DeliveredPackets: s.DeliveredPackets - o.DeliveredPackets, Delivered: s.Delivered - o.Delivered,
		WriteErrors: s.WriteErrors - o.WriteErrors,
		Late100us:   s.Late100us - o.Late100us, Late1ms: s.Late1ms - o.Late1ms, Late10ms: s.Late10ms - o.Late10ms,
		MaxLate:      s.MaxLate,
		TotalLate:    s.TotalLate - o.TotalLate,
		CaptureDrops: s.CaptureDrops - o.CaptureDrops,
	}
}

// counters is the concurrently updated form of Stats. The reader goroutine
// writes the input side, the release thread the output side.
type counters struct {
	packets, bytes               atomic.Uint64
	lostPackets, lostBytes       atomic.Uint64
	queueDropPackets, queueDrops atomic.Uint64
	overflowPackets              atomic.Uint64
	deliveredPackets, delivered  atomic.Uint64
	writeErrors                  atomic.Uint64
	late100us, late1ms, late10ms atomic.Uint64
	maxLate, totalLate           atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Packets: c.packets.Load(), Bytes: c.bytes.Load(),
		LostPackets: c.lostPackets.Load(), LostBytes: c.lostBytes.Load(),
		QueueDropPackets: c.queueDropPackets.Load(), QueueDrops: c.queueDrops.Load(),
		OverflowPackets:  c.overflowPackets.Load(),
		DeliveredPackets: c.deliveredPackets.Load(), Delivered: c.delivered.Load(),
		WriteErrors: c.writeErrors.Load(),
		Late100us:   c.late100us.Load(), Late1ms: c.late1ms.Load(), Late10ms: c.late10ms.Load(),
		MaxLate:   time.Duration(c.maxLate.Load()),
		TotalLate: time.Duration(c.totalLate.Load()),
	}
}

// released records a delivery of size bytes late after its release time.
// Only the release thread calls it, so maxLate needs no compare-and-swap.
func (c *counters) released(size int, late time.Duration) {
	c.deliveredPackets.Add(1)
	c.delivered.Add(uint64(size))
	if late <= 0 {
		return
	}
	c.totalLate.Add(int64(late))
	if late > 100*time.Microsecond {
		c.late100us.Add(1)
		if late > time.Millisecond {
			c.late1ms.Add(1)
			if late > 10*time.Millisecond {
				c.late10ms.Add(1)
			}
		}
	}
	if int64(late) > c.maxLate.Load() {
		c.maxLate.Store(int64(late))
	}
}
