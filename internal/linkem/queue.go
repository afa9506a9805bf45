package linkem

import "time"

// Queue accounts for a drop-tail FIFO queue in front of a transmitter of
// fixed rate. It stores no packets: it only computes when each accepted
// packet finishes serialisation, which is all a delay line needs. Times are
// offsets from any fixed origin and must not decrease between calls.
//
// The queue is fluid: the backlog at time t is the number of bytes the
// transmitter still has to send, the unsent part of the packet on the wire
// included.
//
// A Queue is not safe for concurrent use.
type Queue struct {
	rate  Rate
	limit int
	// free is when the transmitter finishes the last accepted packet.
	free time.Duration
	// frac carries the sub-nanosecond part of serialisation times, in units
	// of 1/rate ns, so that the long-run rate is exact.
	frac uint64
}

// NewQueue returns an idle queue. A zero rate means an unlimited
// transmitter, which never queues and never drops; otherwise limit must be
// positive.
func NewQueue(rate Rate, limit int) *Queue {
	if rate != 0 && limit <= 0 {
		panic("linkem: NewQueue with a rate needs a positive limit")
	}
	return &Queue{rate: rate, limit: limit}
}

// Enqueue offers a packet of size bytes at time now. If the queue has room
// it returns the time the packet's last bit leaves the transmitter and true;
// otherwise it returns false and the queue is unchanged.
func (q *Queue) Enqueue(now time.Duration, size int) (time.Duration, bool) {
	if q.rate == 0 {
		return now, true
	}
	if q.free <= now {
		q.free, q.frac = now, 0
	} else if q.Backlog(now)+size > q.limit {
		return 0, false
	}
	num := uint64(size)*8*uint64(time.Second) + q.frac
	q.free += time.Duration(num / uint64(q.rate))
	q.frac = num % uint64(q.rate)
	return q.free, true
}

// Backlog returns the number of bytes waiting at time now, rounded up.
func (q *Queue) Backlog(now time.Duration) int {
	if q.rate == 0 || q.free <= now {
		return 0
	}
	// (free−now) can reach seconds and rate tens of Gbit/s: the product
	// overflows 64 bits, so compute in floating point (exact to far below a
	// byte at these magnitudes).
	bits := (q.free - now).Seconds() * float64(q.rate)
	b := int(bits / 8)
	if float64(b)*8 < bits {
		b++
	}
	return b
}
