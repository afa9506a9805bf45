package linkem

import (
	"math/rand/v2"
	"time"
)

// delayer assigns release times: a packet that leaves the transmitter at t
// is released at t+Delay+U(−Jitter, +Jitter), but never before the packet
// released just before it, so that the link keeps packets in order.
type delayer struct {
	delay, jitter time.Duration
	last          time.Duration
}

// release returns the release time of a packet that left the transmitter at
// departed. departed must not decrease between calls.
func (d *delayer) release(departed time.Duration, rng *rand.Rand) time.Duration {
	t := departed + d.delay
	if d.jitter > 0 {
		t += time.Duration(rng.Int64N(int64(2*d.jitter)+1)) - d.jitter
	}
	if t < d.last {
		t = d.last
	}
	d.last = t
	return t
}

// set changes the delay and jitter of packets that depart from now on;
// packets keep their order, so a shorter delay holds new packets back to the
// last release until the difference has passed.
func (d *delayer) set(delay, jitter time.Duration) { d.delay, d.jitter = delay, jitter }
