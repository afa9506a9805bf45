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
// SetRate changes the rate and the limit of a running queue. Bytes accepted
// before the change keep the departure times they were given (they drain
// on the old schedule); packets accepted afterwards queue behind them and
// are serialised at the new rate.
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
	// Bytes accepted before the last SetRate drain until mark at markRate
	// bits per second (their mean rate over what was left of them when the
	// rate changed); after mark, what is left drains at rate. mark ≤ now
	// means no such bytes are left.
	mark     time.Duration
	markRate float64
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
	if q.free <= now {
		q.free, q.frac = now, 0
	} else if q.rate != 0 && q.Backlog(now)+size > q.limit {
		return 0, false
	}
	if q.rate == 0 {
		// Unlimited, but FIFO: behind what an earlier rate left queued.
		return q.free, true
	}
	num := uint64(size)*8*uint64(time.Second) + q.frac
	q.free += time.Duration(num / uint64(q.rate))
	q.frac = num % uint64(q.rate)
	return q.free, true
}

// Backlog returns the number of bytes waiting at time now, rounded up.
func (q *Queue) Backlog(now time.Duration) int {
	bits := q.backlogBits(now)
	b := int(bits / 8)
	if float64(b)*8 < bits {
		b++
	}
	return b
}

// backlogBits returns the bits waiting at now. (free−now) can reach seconds
// and rate tens of Gbit/s: the product overflows 64 bits, so it computes in
// floating point (exact to far below a byte at these magnitudes).
func (q *Queue) backlogBits(now time.Duration) float64 {
	if q.free <= now {
		return 0
	}
	if now < q.mark {
		return (q.mark-now).Seconds()*q.markRate + (q.free-q.mark).Seconds()*float64(q.rate)
	}
	return (q.free - now).Seconds() * float64(q.rate)
}

// SetRate changes the transmitter's rate and the queue's limit at now,
// which must not precede the last Enqueue. What is queued keeps its
// departure times; a backlog above a lowered limit is not dropped but
// drains, and arrivals are dropped until it is below the limit again. A
// zero rate means unlimited, as in NewQueue; otherwise limit must be
// positive.
func (q *Queue) SetRate(now time.Duration, rate Rate, limit int) {
	if rate != 0 && limit <= 0 {
		panic("linkem: Queue.SetRate with a rate needs a positive limit")
	}
	if q.free > now {
		// One segment from now to free holds what is left. After several
		// changes within one drain time, this takes the mean rate of the
		// earlier segments: exact at both ends, close in between.
		q.markRate = q.backlogBits(now) / (q.free - now).Seconds()
		q.mark = q.free
	} else {
		q.mark, q.markRate = 0, 0
	}
	q.rate, q.limit, q.frac = rate, limit, 0
}
