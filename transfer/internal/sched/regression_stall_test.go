package sched

import (
	"container/heap"
	"testing"
	"time"
)

// A fast connection stalls mid-transfer (a path that black-holes). It
// takes no new work while stalled, and its late blocks get copies before
// queued blocks, so the reader's head does not wait for StallTimeout (it
// waited 11.6 s before).
func TestScheduler_stalledConnectionDoesNotHoldHead(t *testing.T) {
	fast := &simUp{rate: mbps(40), rtt: 20 * time.Millisecond}
	slow := &simUp{rate: mbps(10), rtt: 40 * time.Millisecond}
	m := newSim(t, Config{Conns: 2}, fast, slow)
	m.start()
	m.settle(time.Second)
	const n = 600
	start := m.now
	var lastHead time.Time = start
	var worst time.Duration
	head := 0
	got := map[int]bool{}
	m.wantWindowed(1, n, 64)
	inner := m.onComplete
	m.onComplete = func(k ChunkKey) {
		inner(k)
		got[int(k.Index)] = true
		for got[head] {
			head++
			if gap := m.now.Sub(lastHead); gap > worst {
				worst = gap
				t.Logf("t=%v head %d after %v (completed on conn %d)", m.now.Sub(start), head, gap, m.completed[ChunkKey{1, uint32(head)}])
			}
			lastHead = m.now
		}
	}
	stalled := false
	end := m.now.Add(10 * time.Minute)
	for m.events.Len() > 0 && len(m.completed)+len(m.failed) < len(m.wanted) {
		e := heap.Pop(&m.events).(event)
		if e.at.After(end) {
			t.Fatal("time limit")
		}
		m.now = e.at
		if !stalled && m.now.Sub(start) > 3*time.Second {
			stalled = true
			for _, sc := range m.conns {
				if sc.up == 0 {
					sc.rate = 1 // new requests on it never finish
					sc.busyUntil = m.now
				}
			}
			for _, cn := range m.s.conns {
				t.Logf("stall at %v: conn %d up %d inflight %d depth %d rate %.0f queue %d", m.now.Sub(start), cn.id, cn.up, len(cn.inflight), m.s.depth(cn), cn.rate, len(m.s.queue))
			}
		}
		e.fn()
	}
	t.Logf("%d blocks in %v; longest wait of the reader's head %v; copies %d", len(m.completed), m.now.Sub(start), worst, m.s.duplicates)
	if worst > 2*time.Second {
		t.Errorf("head blocked %v behind a stalled connection (StallTimeout %v)", worst, m.s.cfg.StallTimeout)
	}
}
