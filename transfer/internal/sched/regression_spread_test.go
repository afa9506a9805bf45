package sched

import (
	"testing"
	"time"
)

// Blocks are wanted one at a time (each Want is a step). Before idle
// connections were served first in each round, the fastest connection took
// every block until its pipeline was full: a reader of 8 blocks over two
// relays had them all on the two connections that had fetched the
// description (the only ones with a rate), and the second relay carried
// nothing (issue 8's quick run of seed 001 under CUBIC: "the edge's stats
// listed only one relay").
func TestScheduler_smallReadSpreadsOverIdleConnections(t *testing.T) {
	m := newSim(t, Config{Conns: 8}, &simUp{rate: mbps(1), rtt: 150 * time.Millisecond}, &simUp{rate: mbps(1), rtt: 200 * time.Millisecond})
	m.start()
	m.settle(time.Second)
	for id := range m.conns {
		if id <= 2 {
			m.s.SetRate(id, mbps(1.5), 1000) // they fetched the description
		}
	}
	m.want(1, 8)
	var perUp [2]int
	for _, cn := range m.s.sortedConns() {
		if len(cn.inflight) != 1 {
			t.Errorf("conn %d (upstream %d, rate %.0f) has %d blocks in flight, want 1", cn.id, cn.up, cn.rate, len(cn.inflight))
		}
		perUp[cn.up] += len(cn.inflight)
	}
	if perUp[0] != 4 || perUp[1] != 4 {
		t.Errorf("blocks per upstream %v, want 4 and 4", perUp)
	}
}

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
	for _, sc := range m.conns {
		if sc.up == 1 {
			sc.rate = 1 // a byte a second: frozen
		}
	}
	m.settle(40 * time.Second)
	target, reason, detail, _ := m.s.Sizing(1)
	t.Logf("frozen upstream: target %d: %v: %s", target, reason, detail)
	if target > 4 {
		t.Errorf("the frozen upstream's target grew to %d (%v: %s)", target, reason, detail)
	}
	if target, _, _, _ := m.s.Sizing(0); target <= 4 {
		t.Errorf("the live upstream's target stayed at %d", target)
	}
}
