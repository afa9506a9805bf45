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
