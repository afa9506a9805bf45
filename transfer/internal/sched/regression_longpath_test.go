package sched

import (
	"testing"
	"time"
)

// One connection on a long, fat path: its depth covers a round trip on top
// of QueueTime. Without the round trip, on a path whose RTT exceeds
// QueueTime the measured rate (depth*size/RTT) and the depth
// (rate*QueueTime/size) shrank each other to MinPipeline: 13.5 Mbit/s of 100
// at 600 ms.
func TestScheduler_longPathKeepsRoundTripInFlight(t *testing.T) {
	for _, rtt := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond} {
		p := &simUp{rate: mbps(100), rtt: rtt}
		m := newSim(t, Config{Conns: 1}, p)
		const n = 1000
		d, got := m.windowedThroughput(n, 128, 60*time.Minute)
		st := m.s.Stats()
		t.Logf("rtt %v: %d blocks in %v: %.1f Mbit/s of 100; depths %v rates %v", rtt, n, d, got, st.Depths, st.Rates)
		if got < 70 { // the ramp from MinPipeline takes a few round trips
			t.Errorf("rtt %v: %.1f Mbit/s, want at least 70 of 100", rtt, got)
		}
	}
}
