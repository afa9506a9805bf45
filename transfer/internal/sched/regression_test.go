package sched

import (
	"testing"
	"time"
)

// With more upstreams than connections, some reachable upstreams get no
// connection. A block refused by every upstream that has one, but not by
// such an upstream, stays queued for ever: failUnservable keeps it (its
// eligible set is non-empty and live), assign has no connection for it,
// balance never dials for demand, and no deadline is armed for it.
func TestScheduler_noBlockStrandedWithoutConnections(t *testing.T) {
	s, err := New(Config{Upstreams: 3, Conns: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	r := s.Ready(now)
	for _, d := range r.Dials {
		s.Dialed(now, d.Conn, true)
	}
	t.Logf("dials: %v", r.Dials)
	k := ChunkKey{Object: 1, Index: 0}
	s.Want(now, k, 256<<10)
	for range 2 {
		r = s.Ready(now)
		for _, rq := range r.Requests {
			s.Failed(now, rq.Conn, rq.Chunk, CauseRefused)
		}
	}
	for i := range 10 {
		now = now.Add(time.Minute)
		s.Tick(now)
		r = s.Ready(now)
		if len(r.Requests)+len(r.Failures)+len(r.Dials) > 0 {
			t.Logf("minute %d: %+v", i, r)
			return
		}
	}
	st := s.Stats()
	t.Errorf("after 10 minutes: queued %d, in flight %d, conns %d; no request, dial or failure: the reader waits for ever (deadline %v)", st.Queued, st.InFlight, st.Conns, r.Deadline)
}

// ban() removes the upstream's connections that are still being dialed and
// emits Closes for them, but the engine cannot close a connection it does
// not have yet (apply skips ids not in e.conns). When the dial then
// succeeds, Dialed finds no conn and returns: nobody ever closes it. The
// engine keeps it in e.conns (ready for Open/describe, keepalive PINGs keep
// it up) for the engine's lifetime.
func TestScheduler_banWhileDialingClosesConn(t *testing.T) {
	s, err := New(Config{Upstreams: 1, Conns: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	r := s.Ready(now)
	if len(r.Dials) != 2 {
		t.Fatalf("dials %v", r.Dials)
	}
	first, second := r.Dials[0].Conn, r.Dials[1].Conn
	s.Dialed(now, first, true) // the second is still dialing
	k := ChunkKey{Object: 1, Index: 0}
	s.Want(now, k, 1)
	r = s.Ready(now)
	s.Failed(now, first, k, CauseCorrupt) // ban
	r = s.Ready(now)
	t.Logf("after the ban: closes %v", r.Closes) // includes the dialing one; the engine has no such conn yet
	s.Dialed(now, second, true)                  // the dial completes: the engine now holds it
	r = s.Ready(now)
	for _, id := range r.Closes {
		if id == second {
			return
		}
	}
	t.Errorf("conn %d dialed after its upstream was banned: no Close is ever issued for it (Ready %+v)", second, r)
}

// Eight dials to an upstream that is not up yet fail together: that is one
// failure of the upstream, not eight, so it stays reachable and is dialed
// again after the first backoff (250 ms), not after 15 s. (Counted one
// each, they put a relay started a moment before its upstream out of
// service for 15 s.) Opens do not wait for it meanwhile.
func TestScheduler_failedDialBatchCountsOnce(t *testing.T) {
	s, err := New(Config{Upstreams: 1, Conns: 8})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	dials := s.Ready(now).Dials
	if len(dials) != 8 {
		t.Fatalf("%d dials, want 8", len(dials))
	}
	for _, d := range dials {
		s.Dialed(now.Add(time.Millisecond), d.Conn, false)
	}
	if f := s.ups[0].failures; f != 1 {
		t.Errorf("%d failures counted for one batch of dials", f)
	}
	if s.Usable(now).Has(0) {
		t.Error("opens wait for an upstream whose dials all failed")
	}
	later := now.Add(300 * time.Millisecond)
	s.Tick(later)
	if n := len(s.Ready(later).Dials); n != 8 {
		t.Errorf("%d dials 300 ms later, want 8", n)
	}
	// The second batch fails too: a second failure.
	for id, cn := range s.conns {
		if !cn.ready {
			s.Dialed(later.Add(time.Millisecond), id, false)
		}
	}
	if f := s.ups[0].failures; f != 2 {
		t.Errorf("%d failures after two batches, want 2", f)
	}
}

// Opens wait for an upstream's first dials (a node starting), and for a
// connection that replaces one that worked; not for an upstream whose dials
// failed, however long its redials take to time out (8 dials timing out
// after 10 s, three times, kept every open waiting for its 15 s timeout).
func TestScheduler_usable(t *testing.T) {
	s, err := New(Config{Upstreams: 2, Conns: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.Tick(now)
	dials := s.Ready(now).Dials
	if u := s.Usable(now); !u.Has(0) || !u.Has(1) {
		t.Fatalf("while the first dials are in flight: usable %b, want both", u)
	}
	for _, d := range dials {
		s.Dialed(now, d.Conn, d.Upstream == 0) // upstream 1's dial fails
	}
	if u := s.Usable(now); !u.Has(0) || u.Has(1) {
		t.Errorf("after upstream 1's dial failed: usable %b, want only upstream 0", u)
	}
	later := now.Add(time.Second)
	s.Tick(later)
	if r := s.Ready(later); len(r.Dials) == 0 || s.Usable(later).Has(1) {
		t.Errorf("upstream 1 redialed (%d dials), usable %b: its redial must not make opens wait", len(r.Dials), s.Usable(later))
	}
}
