package linkem

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Rate is a link rate in bits per second.
type Rate uint64

// Common rates.
const (
	Kbps Rate = 1000
	Mbps Rate = 1000 * Kbps
	Gbps Rate = 1000 * Mbps
)

// TxTime returns how long a packet of size bytes occupies a transmitter of
// rate r, rounded down to the nanosecond. It returns 0 for an unlimited
// (zero) rate.
func (r Rate) TxTime(size int) time.Duration {
	if r == 0 {
		return 0
	}
	return time.Duration(uint64(size) * 8 * uint64(time.Second) / uint64(r))
}

// Bytes returns how many bytes a transmitter of rate r sends in d.
func (r Rate) Bytes(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(float64(r) * d.Seconds() / 8)
}

// Mbps returns r in megabits per second.
func (r Rate) Mbps() float64 { return float64(r) / 1e6 }

// String formats r with the largest unit that keeps it exact, or "unlimited".
func (r Rate) String() string {
	switch {
	case r == 0:
		return "unlimited"
	case r%Gbps == 0:
		return strconv.FormatUint(uint64(r/Gbps), 10) + " Gbit/s"
	case r%Mbps == 0:
		return strconv.FormatUint(uint64(r/Mbps), 10) + " Mbit/s"
	case r%Kbps == 0:
		return strconv.FormatUint(uint64(r/Kbps), 10) + " kbit/s"
	}
	return strconv.FormatUint(uint64(r), 10) + " bit/s"
}

// Defaults and bounds of a Config.
const (
	// MTU is the packet size the ends are expected to use.
	MTU = 1500
	// MinQueueBytes is the smallest default queue: 16 full-size packets, so
	// that a link with almost no delay still absorbs a burst.
	MinQueueBytes = 16 * MTU
	// MaxPacketSize is the largest packet a Forwarder accepts; larger ones
	// are dropped and counted as overflow.
	MaxPacketSize = 9216
	// unlimitedLineBytes bounds the delay line of a link without a rate
	// limit, where no rate bounds the bytes in flight.
	unlimitedLineBytes = 8 << 20
)

// Config configures one direction of a link. The zero value is a perfect
// link: no loss, no rate limit, no delay.
type Config struct {
	// Rate limits the direction to this many bits per second, IP headers
	// included. Zero means unlimited (no queue either).
	Rate Rate
	// Delay is the one-way propagation delay added to every packet.
	Delay time.Duration
	// Jitter, if positive, adds a delay drawn uniformly from
	// [−Jitter, +Jitter] to each packet, then holds a packet back to the
	// previous one's release so that none overtakes another. At packet
	// intervals well below Jitter this raises the mean delay towards
	// Delay+Jitter. Jitter must not exceed Delay.
	Jitter time.Duration
	// QueueBytes is the size of the drop-tail queue in front of the rate
	// limiter, in bytes. Zero means one bandwidth-delay product of the link,
	// Rate × 2·Delay (the link's own round trip), but at least
	// MinQueueBytes. It is ignored when Rate is zero.
	QueueBytes int
	// Loss is the packet loss process, applied before the queue. The zero
	// value loses nothing.
	Loss Loss
	// Seed seeds the random source of the loss process and the jitter. The
	// same seed and the same packet arrivals give the same decisions.
	Seed uint64
}

// QueueLimit returns the queue size that applies: QueueBytes, or its
// default when zero.
func (c Config) QueueLimit() int {
	if c.Rate == 0 {
		return 0
	}
	if c.QueueBytes > 0 {
		return c.QueueBytes
	}
	return max(c.Rate.Bytes(2*c.Delay), MinQueueBytes)
}

// LineBytes returns the capacity of the delay line a Forwarder needs for c:
// everything the queue can hold plus everything in flight during the
// longest delay, plus lineSlack of lateness at the full rate and room for
// two maximum-size packets lost to wrap-around at the ring's end.
func (c Config) LineBytes() int {
	if c.Rate == 0 {
		return unlimitedLineBytes
	}
	return c.QueueLimit() + c.Rate.Bytes(c.Delay+c.Jitter+lineSlack) + 2*MaxPacketSize
}

// lineSlack is how far the release thread may fall behind at full rate
// before the delay line overflows.
const lineSlack = 50 * time.Millisecond

// Validate reports whether c describes a realisable link.
func (c Config) Validate() error {
	var errs []error
	if c.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay %v < 0", c.Delay))
	}
	if c.Jitter < 0 || c.Jitter > c.Delay {
		errs = append(errs, fmt.Errorf("jitter %v outside [0, delay %v]", c.Jitter, c.Delay))
	}
	if c.QueueBytes < 0 {
		errs = append(errs, fmt.Errorf("queue %d bytes < 0", c.QueueBytes))
	}
	if c.Rate != 0 && c.QueueBytes != 0 && c.QueueBytes < MTU {
		errs = append(errs, fmt.Errorf("queue %d bytes < one packet of %d", c.QueueBytes, MTU))
	}
	if c.Rate != 0 && c.LineBytes() > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("rate %v × delay %v needs a delay line over 2 GiB", c.Rate, c.Delay))
	}
	if err := c.Loss.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("linkem: %w", err)
	}
	return nil
}

// String describes c in one line, for logs and reports.
func (c Config) String() string {
	s := fmt.Sprintf("rate %v, delay %v", c.Rate, c.Delay)
	if c.Jitter > 0 {
		s += fmt.Sprintf(" ±%v", c.Jitter)
	}
	if c.Rate != 0 {
		s += fmt.Sprintf(", queue %d B", c.QueueLimit())
	}
	return s + ", loss " + c.Loss.String()
}
