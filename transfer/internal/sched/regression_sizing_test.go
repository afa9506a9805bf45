package sched

import (
	"testing"
	"time"
)

// An upstream whose connections stall (a frozen relay) is not sized up:
// its connections are not saturated, however much work waits. Before,
// they counted as saturated (stalled connections have no room), and the
// Sizer dialled more connections to the frozen node.
func TestScheduler_stalledUpstreamNotSizedUp(t *testing.T) {
	live := &simUp{rate: mbps(2), capacity: mbps(40), rtt: 100 * time.Millisecond}
	frozen := &simUp{rate: mbps(2), capacity: mbps(40), rtt: 100 * time.Millisecond}
	m := newSim(t, Config{Conns: 8, MaxConns: 64}, live, frozen)
	m.stream = true
	m.flow()
	m.start()
	m.wantWindowed(1, 20000, 400)
	m.settle(2 * time.Second)
	frozen.rate = 1 // a byte a second, for connections dialed from now on too
	for _, sc := range m.conns {
		if sc.up == 1 {
			sc.rate = 1
		}
	}
	// A step measured before the freeze may be under way; nothing after
	// it may add to it.
	m.settle(3 * time.Second)
	before, _, _, _ := m.s.Sizing(1)
	m.settle(40 * time.Second)
	target, reason, detail, _ := m.s.Sizing(1)
	t.Logf("frozen upstream: target %d when frozen, %d after 40 s: %v: %s", before, target, reason, detail)
	if target > max(before, 4) {
		t.Errorf("the frozen upstream's target grew from %d to %d (%v: %s)", before, target, reason, detail)
	}
	if target, _, _, _ := m.s.Sizing(0); target <= 4 {
		t.Errorf("the live upstream's target stayed at %d", target)
	}
}
