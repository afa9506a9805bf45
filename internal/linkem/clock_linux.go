package linkem

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// monoClock maps offsets from an epoch (read with Go's monotonic clock,
// which is CLOCK_MONOTONIC on Linux) to absolute CLOCK_MONOTONIC times, so
// that the release thread can sleep with TIMER_ABSTIME and never
// accumulates the error of relative sleeps.
type monoClock struct {
	epoch time.Time
	base  int64 // CLOCK_MONOTONIC, in ns, at epoch
}

func newMonoClock() monoClock {
	c := monoClock{epoch: time.Now()}
	// Bracket a clock_gettime between two reads of the Go clock and keep
	// the tightest bracket: its midpoint is within a few hundred ns.
	best := time.Duration(1<<63 - 1)
	for range 16 {
		var ts unix.Timespec
		a := time.Since(c.epoch)
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
			continue
		}
		b := time.Since(c.epoch)
		if b-a < best {
			best = b - a
			c.base = ts.Nano() - int64(a+(b-a)/2)
		}
	}
	return c
}

func (c monoClock) now() time.Duration { return time.Since(c.epoch) }

// sleepUntil sleeps until the clock reads t, or returns at once if it is
// past.
func (c monoClock) sleepUntil(t time.Duration) {
	ts := unix.NsecToTimespec(c.base + int64(t))
	for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
	}
}

// prepareThread tunes the calling thread, which the caller has locked and
// will never unlock, for precise wake-ups: a timer slack of 1 ns instead of
// the default 50 µs and, if realtime, SCHED_FIFO at RealTimePriority.
func prepareThread(realtime bool) error {
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("linkem: timer slack: %w", err)
	}
	if realtime {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: RealTimePriority}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			return fmt.Errorf("linkem: SCHED_FIFO: %w", err)
		}
	}
	return nil
}
